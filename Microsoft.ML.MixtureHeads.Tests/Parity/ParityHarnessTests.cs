using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Parity;

/// <summary>The harness itself: it round-trips tensors and it can fail, with a readable report.</summary>
public sealed class ParityHarnessTests
{
    [Fact]
    public void A_wrong_reference_value_fails_with_index_values_and_max_error()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var x = randn(4, 6);
        var reference = PythonReference.Run(new ReferenceCase("softmax",
            new Dictionary<string, object> { ["dim"] = -1 },
            new Dictionary<string, Tensor> { ["x"] = x, ["grad_y"] = ones(4, 6) }));
        var ours = softmax(x, -1);
        ParityAssert.Close("softmax", reference["y"], ours, Tolerance.Fp32); // agrees as it is

        var tampered = reference["y"].clone();
        tampered[2, 5] = tampered[2, 5] + 0.01f;
        var error = Assert.Throws<ParityMismatchException>(() => ParityAssert.Close("softmax", tampered, ours, Tolerance.Fp32));
        Assert.Contains("1 of 24 elements differ", error.Message);
        Assert.Contains("worst at [2,5]", error.Message);
        Assert.Contains("max abs error 0.01", error.Message);
    }

    [Fact]
    public void An_infinite_or_nan_reference_is_met_only_by_the_same_value()
    {
        using var scope = NewDisposeScope();
        var reference = tensor(new[] { float.PositiveInfinity, float.NegativeInfinity, float.NaN, 1f });
        ParityAssert.Close("same", reference, reference.clone(), Tolerance.Fp32);
        foreach (int i in new[] { 0, 1, 2 })
        {
            var ours = reference.clone();
            ours[i] = tensor(3f);
            var error = Assert.Throws<ParityMismatchException>(() => ParityAssert.Close($"element {i}", reference, ours, Tolerance.Fp32));
            Assert.Contains("1 of 4 elements differ", error.Message);
        }
        var flipped = reference.clone();
        flipped[0] = tensor(float.NegativeInfinity);
        Assert.Throws<ParityMismatchException>(() => ParityAssert.Close("sign of infinity", reference, flipped, Tolerance.Fp32));
    }

    [Fact]
    public void A_shape_mismatch_is_reported()
    {
        using var scope = NewDisposeScope();
        var error = Assert.Throws<ParityMismatchException>(() => ParityAssert.Close("x", zeros(2, 3), zeros(3, 2), Tolerance.Fp32));
        Assert.Contains("shape [3,2], reference [2,3]", error.Message);
    }

    [Fact]
    public void Bundles_round_trip_every_dtype()
    {
        using var scope = NewDisposeScope();
        string path = Path.GetTempFileName();
        try
        {
            var tensors = new Dictionary<string, Tensor>
            {
                ["f"] = randn(3, 4), ["i"] = arange(10L).reshape(2, 5), ["d"] = randn(2, dtype: ScalarType.Float64), ["s"] = tensor(1.5f),
            };
            TensorBundle.Write(path, tensors);
            var back = TensorBundle.Read(path);
            foreach (var (name, t) in tensors)
            {
                Assert.Equal(t.dtype, back[name].dtype);
                Assert.Equal(t.shape, back[name].shape);
                Assert.True(t.eq(back[name]).all().item<bool>(), name);
            }
        }
        finally { File.Delete(path); }
    }
}
