using Microsoft.ML.OnnxRuntime;
using DenseTensorOf = Microsoft.ML.OnnxRuntime.Tensors;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>
/// A batch of network input on the host, values row-major with their shape. It becomes a TorchSharp tensor inside a
/// training step's dispose scope, or an ONNX Runtime tensor for scoring: one batch layout for both.
/// </summary>
internal abstract class HostTensor(long[] shape)
{
    /// <summary>The shape, batch first.</summary>
    public long[] Shape { get; } = shape;

    /// <summary>Rows (the first dimension).</summary>
    public long Rows => Shape[0];

    /// <summary>A new tensor on <paramref name="device"/> holding these values.</summary>
    public abstract Tensor ToTensor(Device device);

    /// <summary>The values as the ONNX graph input <paramref name="name"/>.</summary>
    public abstract NamedOnnxValue ToOnnx(string name);

    /// <summary>Float values of <paramref name="shape"/>.</summary>
    public static HostTensor Of(float[] values, long[] shape) => new Floats(values, shape);

    /// <summary>Int64 values of <paramref name="shape"/>.</summary>
    public static HostTensor Of(long[] values, long[] shape) => new Int64s(values, shape);

    private static int[] OnnxShape(long[] shape) => shape.Select(d => checked((int)d)).ToArray();

    private sealed class Floats(float[] values, long[] shape) : HostTensor(shape)
    {
        public override Tensor ToTensor(Device device) => tensor(values, Shape, device: device);

        public override NamedOnnxValue ToOnnx(string name) => NamedOnnxValue.CreateFromTensor(name, new DenseTensorOf.DenseTensor<float>(values, OnnxShape(Shape)));
    }

    private sealed class Int64s(long[] values, long[] shape) : HostTensor(shape)
    {
        public override Tensor ToTensor(Device device) => tensor(values, Shape, device: device);

        public override NamedOnnxValue ToOnnx(string name) => NamedOnnxValue.CreateFromTensor(name, new DenseTensorOf.DenseTensor<long>(values, OnnxShape(Shape)));
    }
}
