using Microsoft.ML.MixtureHeads.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Training;

/// <summary>A thread count equal to libtorch's current one leaves libtorch alone (its set_num_threads slows training).</summary>
public sealed class LibTorchThreadsTests
{
    [Fact]
    public void No_count_or_the_current_count_is_the_scope_that_changes_nothing()
    {
        var none = LibTorchThreads.Use(null);
        var current = LibTorchThreads.Use(get_num_threads());

        Assert.Same(none, current);
        Assert.IsNotType<LibTorchThreads>(current);
    }
}
