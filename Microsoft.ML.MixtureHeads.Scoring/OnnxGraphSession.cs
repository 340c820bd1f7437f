using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.MixtureHeads;

/// <summary>Opens exported graphs for the scoring package's generators, with one error for bytes that are not a graph.</summary>
internal static class OnnxGraphSession
{
    /// <summary>An ONNX Runtime session over <paramref name="model"/> (ONNX bytes).</summary>
    /// <exception cref="InvalidDataException">The bytes are not a loadable ONNX graph (ONNX Runtime's reason in the message).</exception>
    public static InferenceSession Open(byte[] model)
    {
        ArgumentNullException.ThrowIfNull(model);
        try
        {
            return new InferenceSession(model);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"The model is not a loadable ONNX graph: {e.Message}", e);
        }
    }
}
