using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Onnx;

/// <summary>Exporting a module, reading the bytes back and loading them into a fresh module.</summary>
public sealed class OnnxStateDictTests
{
    /// <summary>A small network of every module kind that has an emitter; field names are its state-dict names.</summary>
    private sealed class TinyNet : nn.Module<Tensor, Tensor>
    {
        public readonly ExportableEmbedding embed;
        public readonly ExportableLayerNorm norm;
        public readonly ExportableLinear proj;
        public readonly RMSNorm rms;
        public readonly BitLinear head;

        public TinyNet(long seed) : base(nameof(TinyNet))
        {
            manual_seed(seed);
            embed = new ExportableEmbedding(11, 8);
            norm = new ExportableLayerNorm(8);
            proj = new ExportableLinear(8, 6);
            rms = new RMSNorm(6);
            head = new BitLinear(6, 4);
            nn.init.normal_(norm.weight);
            nn.init.normal_(norm.bias!);
            nn.init.normal_(rms.weight);
            RegisterComponents();
        }

        public override Tensor forward(Tensor ids) =>
            head.forward(rms.forward(nn.functional.gelu(proj.forward(norm.forward(embed.forward(ids))))));

        public byte[] ToOnnx()
        {
            var g = new OnnxGraphBuilder();
            var x = embed.EmitOnnx(g, g.Input("TokenIds", OnnxElementType.Int64, "batch", "sequence"), "embed");
            x = g.Gelu(proj.EmitOnnx(g, norm.EmitOnnx(g, x, "norm"), "proj"));
            x = head.EmitOnnx(g, rms.EmitOnnx(g, x, "rms"), "head");
            g.Output(x, "Score", OnnxElementType.Float, "batch", "sequence", 4);
            g.SetMetadata("mixtureheads.config", "{\"vocab\":11}");
            return g.ToBytes();
        }
    }

    [Fact]
    public void LoadInto_rebuilds_a_module_whose_forward_equals_the_original()
    {
        using var scope = NewDisposeScope();
        var trained = new TinyNet(seed: 40);
        var ids = randint(0, 11, [3, 5]);
        byte[] bytes = trained.ToOnnx();
        ParityAssert.Close("onnx vs forward", trained.forward(ids), OnnxSession.Run(bytes, ("TokenIds", ids))["Score"], Tolerance.Fp32);

        var rebuilt = new TinyNet(seed: 41);
        Assert.False(rebuilt.forward(ids).equal(trained.forward(ids)).all().item<bool>());
        OnnxStateDict.LoadInto(rebuilt, OnnxModelReader.Read(bytes));

        Assert.True(rebuilt.forward(ids).equal(trained.forward(ids)).all().item<bool>(), "forward after LoadInto must be identical");
        foreach (var (name, value) in trained.state_dict())
            Assert.True(value.equal(rebuilt.state_dict()[name]).all().item<bool>(), name);
    }

    [Fact]
    public void LoadInto_names_a_missing_parameter_and_leaves_the_module_untouched()
    {
        using var scope = NewDisposeScope();
        var g = new OnnxGraphBuilder();
        var module = new ExportableLinear(3, 2);
        g.Output(new ExportableLinear(3, 2, hasBias: false).EmitOnnx(g, g.Input("x", OnnxElementType.Float, 1, 3), ""), "y", OnnxElementType.Float, 1, 2);
        var before = module.weight.detach().clone();

        var e = Assert.Throws<InvalidDataException>(() => OnnxStateDict.LoadInto(module, OnnxModelReader.Read(g.ToBytes())));
        Assert.Contains("no initializer for parameter 'bias'", e.Message);
        Assert.True(module.weight.equal(before).all().item<bool>(), "nothing may be copied when loading fails");
    }

    [Fact]
    public void LoadInto_names_a_parameter_of_another_shape_or_type()
    {
        using var scope = NewDisposeScope();
        var g = new OnnxGraphBuilder();
        g.Initializer("weight", zeros(2, 4));
        g.Initializer("bias", zeros(2, dtype: ScalarType.Int64));
        g.Output(g.Identity(g.Input("x", OnnxElementType.Float, 1)), "y", OnnxElementType.Float, 1);
        var model = OnnxModelReader.Read(g.ToBytes());

        var e = Assert.Throws<InvalidDataException>(() => OnnxStateDict.LoadInto(nn.Linear(3, 2), model));
        Assert.Contains("'weight' is Float32[2, 3] in the module but Float[2, 4] in the ONNX model", e.Message);
        e = Assert.Throws<InvalidDataException>(() => OnnxStateDict.LoadInto(nn.Linear(4, 2), model));
        Assert.Contains("'bias' is Float32[2] in the module but Int64[2]", e.Message);
    }
}
