using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;

namespace Microsoft.ML.MixtureHeads.Tests.Models;

/// <summary>The one registry: names to configs, kinds to families, filtering, user registrations, validation.</summary>
public sealed class ModelRegistryTests
{
    [Fact]
    public void Names_filter_by_glob_and_config_type()
    {
        var vitTiny = ModelRegistry.List("moh_vit_tiny_*");
        Assert.Contains("moh_vit_tiny_75", vitTiny);
        Assert.DoesNotContain("moh_vit_small_75", vitTiny);
        Assert.All(ModelRegistry.List(configType: typeof(TextEncoderConfig)), n => Assert.StartsWith("moh_text_", n));
        Assert.Equal(ModelRegistry.List().Order(StringComparer.Ordinal), ModelRegistry.List());
        Assert.Equal(["moh_vit_tiny_75"], ModelRegistry.List("moh_vit_tiny_?5"));   // ? is one character
    }

    [Fact]
    public void A_user_registered_config_works_as_a_trainer_architecture()
    {
        var mine = ModelRegistry.Get<VisionTransformerConfig>("moh_vit_tiny_75") with { Depth = 2 };
        ModelRegistry.Register("test_my_vit", mine);
        ModelRegistry.Register("test_my_vit", mine);   // the same again is fine
        Assert.Same(mine, ModelRegistry.Get<VisionTransformerConfig>("test_my_vit"));
        Assert.Equal("vision_transformer", ModelRegistry.KindOf(mine));
        new MLContext().MoHImageClassifier(new() { Architecture = "test_my_vit" });   // the trainer accepts the name

        Assert.Contains("registered already", Assert.Throws<ArgumentException>(() => ModelRegistry.Register("test_my_vit", mine with { Depth = 3 })).Message);
        var wrongType = Assert.Throws<ArgumentOutOfRangeException>(() => ModelRegistry.Get<TextEncoderConfig>("test_my_vit"));
        Assert.Contains("moh_text_tiny_75", wrongType.Message);
    }

    [Fact]
    public void A_config_is_validated_when_registered_naming_the_field()
    {
        var bad = new VisionTransformerConfig { Dim = 96, Heads = 5 };
        Assert.Contains("HeadDim", Assert.Throws<ArgumentException>(() => ModelRegistry.Register("test_bad_heads", bad)).Message);
        Assert.Contains("Classes", Assert.Throws<ArgumentException>(() => ModelRegistry.Register("test_bad_classes", new TextEncoderConfig { Classes = 1 })).Message);
        Assert.DoesNotContain("test_bad_heads", ModelRegistry.List());
    }

    [Fact]
    public void The_expert_layer_takes_the_block_width_and_a_conflicting_one_is_named()
    {
        var config = ModelRegistry.Get<VisionTransformerConfig>("moh_vit_tiny_75_mhmoe");
        Assert.Equal(0, config.MoE!.Dim);
        Assert.Equal(config.Dim, config.FeedForwardOptions.MoE!.Dim);
        using var network = new MoHVisionTransformer(config);
        Assert.Equal(config.Dim, network.blocks[0].moe!.Options.Dim);

        var conflicting = config with { MoE = config.MoE with { Dim = 64 } };
        Assert.Contains("MoE.Dim (64)", Assert.Throws<ArgumentException>(() => conflicting.Validate()).Message);
    }

    public static TheoryData<string> Names() => new(ModelRegistry.List("moh_*"));

    [Theory]
    [MemberData(nameof(Names))]
    public void Every_registered_config_round_trips_through_the_json_exported_models_keep(string name)
    {
        var config = ModelRegistry.Get<ModelConfig>(name);
        string kind = ModelRegistry.KindOf(config);
        Assert.Equal(config, ModelRegistry.ReadConfig(kind, ModelJson.Serialize(config)));
        using var network = ModelRegistry.Create(kind, ModelJson.Serialize(config));
        Assert.Equal(kind, network.Kind);
    }

    [Fact]
    public void An_unknown_kind_lists_the_known_ones()
    {
        var error = Assert.Throws<InvalidDataException>(() => ModelRegistry.Create("diffusion_transformer_v9", "{}"));
        Assert.Contains("vision_transformer", error.Message);
        Assert.Contains("text_encoder", error.Message);
    }
}
