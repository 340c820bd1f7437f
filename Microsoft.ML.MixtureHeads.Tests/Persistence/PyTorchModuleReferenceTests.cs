using Microsoft.ML.MixtureHeads.Tests.Parity;

namespace Microsoft.ML.MixtureHeads.Tests.Persistence;

/// <summary>
/// The supported PyTorch module (python/mixtureheads_lm/model.py) against the test suite's independent functional
/// reference (reference/lm_cases.py): the same weights and tokens give the same logits, auxiliary loss and gradient of
/// every parameter for dense,
/// learned and parameter-free routing, SMoE, MH-MoE h=2 and h=3, and BitNet.
/// </summary>
public sealed class PyTorchModuleReferenceTests
{
    [Fact]
    public void The_PyTorch_module_matches_the_functional_reference_in_every_case()
    {
        string printed = PythonLM.Run("reference_check", [Path.Combine(AppContext.BaseDirectory, "reference")]);
        var lines = printed.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(7, lines.Count(l => l.StartsWith("ok ", StringComparison.Ordinal)));
        Assert.DoesNotContain(lines, l => l.StartsWith("FAIL", StringComparison.Ordinal));
    }
}
