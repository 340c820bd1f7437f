using Microsoft.ML.OnnxRuntime;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Onnx;

/// <summary>
/// A thin wrapper over ONNX Runtime's <see cref="InferenceSession"/> that runs ONNX bytes on TorchSharp tensors:
/// named float32 / int64 / int8 / bool inputs in, named outputs back as new CPU tensors or float arrays.
/// Export-parity tests use it to compare an emitted graph with the TorchSharp forward it mirrors.
/// </summary>
public sealed class OnnxSession : IDisposable
{
    private readonly InferenceSession _session;

    /// <summary>Loads <paramref name="model"/> (ONNX bytes) into a new session.</summary>
    /// <param name="model">The model bytes, e.g. from <see cref="OnnxGraphBuilder.ToBytes"/>.</param>
    /// <param name="options">Session options; null for ONNX Runtime's defaults (all graph optimisations on).</param>
    public OnnxSession(byte[] model, SessionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _session = options is null ? new InferenceSession(model) : new InferenceSession(model, options);
    }

    /// <summary>The graph's input names, in declaration order.</summary>
    public IReadOnlyList<string> InputNames => _session.InputNames;

    /// <summary>The graph's output names, in declaration order.</summary>
    public IReadOnlyList<string> OutputNames => _session.OutputNames;

    /// <summary>Runs once on the named inputs and returns every graph output as a new CPU tensor (caller disposes).</summary>
    /// <exception cref="ArgumentException">An input is missing, unknown, or of an unsupported dtype.</exception>
    public Dictionary<string, Tensor> Run(params (string Name, Tensor Value)[] inputs)
    {
        var missing = InputNames.Except(inputs.Select(i => i.Name)).ToArray();
        var unknown = inputs.Select(i => i.Name).Except(InputNames).ToArray();
        if (missing.Length > 0 || unknown.Length > 0)
            throw new ArgumentException(
                $"The model takes inputs [{string.Join(", ", InputNames)}]; missing [{string.Join(", ", missing)}], unknown [{string.Join(", ", unknown)}].",
                nameof(inputs));
        var values = new List<OrtValue>();
        try
        {
            foreach (var (name, value) in inputs) values.Add(ToOrtValue(name, value));
            using var runOptions = new RunOptions();
            using var results = _session.Run(runOptions, inputs.Select(i => i.Name).ToArray(), values, OutputNames.ToArray());
            return OutputNames.Zip(results).ToDictionary(p => p.First, p => ToTensor(p.Second));
        }
        finally
        {
            foreach (var value in values) value.Dispose();
        }
    }

    /// <summary>Runs once and returns every graph output as a float array (non-float outputs are converted).</summary>
    public Dictionary<string, float[]> RunFloats(params (string Name, Tensor Value)[] inputs)
    {
        var outputs = Run(inputs);
        try
        {
            return outputs.ToDictionary(p => p.Key, p => FloatsOf(p.Value));
        }
        finally
        {
            foreach (var tensor in outputs.Values) tensor.Dispose();
        }
    }

    /// <summary>Loads <paramref name="model"/>, runs it once on <paramref name="inputs"/> and returns every output.</summary>
    public static Dictionary<string, Tensor> Run(byte[] model, params (string Name, Tensor Value)[] inputs)
    {
        using var session = new OnnxSession(model);
        return session.Run(inputs);
    }

    /// <inheritdoc />
    public void Dispose() => _session.Dispose();

    private static OrtValue ToOrtValue(string name, Tensor value)
    {
        var elementType = OnnxTensorData.ElementTypeOf(value.dtype)
            ?? throw new ArgumentException($"Input '{name}' has dtype {value.dtype}; supported are Float32, Int64, Int8 and Bool.", nameof(value));
        using var detached = value.detach();
        using var cpu = detached.cpu();
        using var contiguous = cpu.contiguous();
        var ortValue = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, (TensorElementType)elementType, value.shape);
        contiguous.bytes.CopyTo(ortValue.GetTensorMutableRawData());
        return ortValue;
    }

    private static Tensor ToTensor(OrtValue value)
    {
        var info = value.GetTensorTypeAndShape();
        if (!Enum.IsDefined((OnnxElementType)info.ElementDataType))
            throw new NotSupportedException($"Output of element type {info.ElementDataType} cannot be returned as a TorchSharp tensor here.");
        var tensor = empty(info.Shape, OnnxTensorData.ScalarTypeOf((OnnxElementType)info.ElementDataType));
        value.GetTensorMutableRawData().CopyTo(tensor.bytes);
        return tensor;
    }

    private static float[] FloatsOf(Tensor tensor)
    {
        using var floats = tensor.to_type(ScalarType.Float32);
        return floats.data<float>().ToArray();
    }
}
