using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Onnx;

/// <summary>
/// An ONNX graph under test next to the TorchSharp results it must reproduce: inputs are declared from the tensors
/// fed to them, each expected output is declared with the exact dtype and shape of its TorchSharp twin, and
/// <see cref="Check"/> runs the graph in ONNX Runtime and compares every output.
/// </summary>
internal sealed class OnnxParity
{
    private readonly List<(string Name, Tensor Value)> _inputs = [];
    private readonly List<(string Name, Tensor Expected, Tolerance Tolerance)> _expected = [];

    public OnnxGraphBuilder Graph { get; } = new();

    /// <summary>Declares a graph input with the dtype and fixed shape of <paramref name="value"/>, fed with it.</summary>
    public string Input(string name, Tensor value)
    {
        _inputs.Add((name, value));
        return Graph.Input(name, ElementType(value), [.. value.shape.Select(d => (OnnxDim)d)]);
    }

    /// <summary>Declares <paramref name="value"/> an output that must equal <paramref name="expected"/> (exactly for
    /// integer and bool results, within <paramref name="tolerance"/> (default fp32) for floats).</summary>
    public void Expect(string name, string value, Tensor expected, Tolerance? tolerance = null)
    {
        Graph.Output(value, name, ElementType(expected), [.. expected.shape.Select(d => (OnnxDim)d)]);
        _expected.Add((name, expected, tolerance ?? Tolerance.Fp32));
    }

    /// <summary>Runs the graph in ONNX Runtime and compares every expected output.</summary>
    public void Check()
    {
        using var scope = NewDisposeScope();
        var outputs = OnnxSession.Run(Graph.ToBytes(), [.. _inputs]);
        foreach (var (name, expected, tolerance) in _expected)
        {
            var actual = outputs[name];
            Assert.Equal(expected.dtype, actual.dtype);
            if (expected.dtype == ScalarType.Float32) ParityAssert.Close(name, expected, actual, tolerance);
            else ParityAssert.Equal(name, expected, actual);
        }
    }

    private static OnnxElementType ElementType(Tensor value) =>
        OnnxTensorData.ElementTypeOf(value.dtype) ?? throw new ArgumentException($"dtype {value.dtype} is not an ONNX test type");
}
