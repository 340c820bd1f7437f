using Microsoft.ML.MixtureHeads.Persistence;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>Rebuilds a network from the kind and architecture JSON recorded in an exported model.</summary>
internal static class ClassifierNetworks
{
    public static ClassifierNetwork Create(string kind, string configJson) => kind switch
    {
        MoHVisionTransformer.KindName => new MoHVisionTransformer(ModelJson.Deserialize<VisionTransformerConfig>(configJson, kind)),
        MoHTextEncoder.KindName => new MoHTextEncoder(ModelJson.Deserialize<TextEncoderConfig>(configJson, kind)),
        _ => throw new InvalidDataException($"Unknown model kind '{kind}' (this library knows: {MoHVisionTransformer.KindName}, {MoHTextEncoder.KindName})."),
    };
}
