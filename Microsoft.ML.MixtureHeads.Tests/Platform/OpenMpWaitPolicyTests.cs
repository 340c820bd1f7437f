using Microsoft.ML.MixtureHeads.Platform;

namespace Microsoft.ML.MixtureHeads.Tests.Platform;

/// <summary>Start-up chooses passive OpenMP waiting only where the user chose nothing and libgomp has not read its environment yet.</summary>
public sealed class OpenMpWaitPolicyTests
{
    private static (string Note, List<(string, string)> Set) Apply(Dictionary<string, string> environment, bool loaded)
    {
        var set = new List<(string, string)>();
        string note = OpenMpWaitPolicy.Apply(environment.GetValueOrDefault, () => loaded, (name, value) => { set.Add((name, value)); return true; });
        return (note, set);
    }

    [Fact]
    public void With_nothing_chosen_it_sets_passive_waiting()
    {
        var (note, set) = Apply([], loaded: false);
        Assert.Equal([("OMP_WAIT_POLICY", "PASSIVE")], set);
        Assert.Contains("set OMP_WAIT_POLICY=PASSIVE", note);
    }

    [Theory]
    [InlineData("OMP_WAIT_POLICY", "ACTIVE")]
    [InlineData("GOMP_SPINCOUNT", "300000")]
    public void A_policy_the_user_chose_is_kept(string name, string value)
    {
        var (note, set) = Apply(new() { [name] = value }, loaded: false);
        Assert.Empty(set);
        Assert.Contains($"{name}={value}", note);
    }

    [Fact]
    public void Once_libgomp_is_loaded_it_says_so_and_sets_nothing()
    {
        var (note, set) = Apply([], loaded: true);
        Assert.Empty(set);
        Assert.Contains("already loaded", note);
    }
}
