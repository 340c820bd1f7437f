using Microsoft.ML.MixtureHeads.Scoring;
using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Tests.Onnx;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using Microsoft.ML.MixtureHeads.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Models;

/// <summary>
/// Walks every module of every registered model: hooks record what each exportable module reads and returns during
/// the model's eval forward, then each module alone is emitted to ONNX (under its state-dict path) and run in ONNX
/// Runtime on what it read, which must give what it returned. Every module with parameters must be exportable, and
/// every exportable module with state must have run (an MH-MoE layer's experts run grouped, inside the layer's check).
/// </summary>
public sealed class ModuleWalkTests
{
    public static TheoryData<string> Names() => new(ModelRegistry.List());

    /// <summary>One call of one module: how to check its emission against what it returned.</summary>
    private sealed record Call(string Path, Action<OnnxParity> Check);

    [Theory]
    [MemberData(nameof(Names))]
    public void Every_exportable_module_gives_its_eval_forward_in_onnx_runtime(string name)
    {
        using var scope = NewDisposeScope();
        manual_seed(31);
        var (network, forward) = Build(ModelRegistry.Get<ModelConfig>(name));
        var calls = new List<Call>();
        var hooks = network.Module.named_modules().Select(m => Record(m.name, m.module, calls)).Where(h => h is not null).ToList();
        network.Module.eval();
        using (no_grad()) forward();
        foreach (var remove in hooks) remove!();

        var exportable = network.Module.named_modules().Where(m => IsExportable(m.module)).Select(m => m.name).ToHashSet();
        var withParameters = network.Module.named_modules()
            .Where(m => m.module.named_parameters(recurse: false).Any() && m.name.Length > 0).Select(m => m.name);
        var notExportable = withParameters.Where(path => !exportable.Contains(path)).ToList();
        Assert.True(notExportable.Count == 0, $"modules with parameters that emit no ONNX: {string.Join(", ", notExportable)}");
        // Experts and routers inside an MH-MoE layer run as one grouped computation, and an MoH attention layer's head
        // routers as one product, not module by module: the layer's own check covers them. Modules without state
        // (rotary tables) are helpers their layer calls directly.
        var ran = calls.Select(c => c.Path).ToHashSet();
        var moeLayers = network.Module.named_modules().Where(m => m.module is MultiHeadMoE).Select(m => m.name + ".").ToList();
        var headRouters = network.Module.named_modules().Where(m => m.module is MoHAttention)
            .SelectMany(m => new[] { "wg", "wg_0", "wg_1" }.Select(router => $"{m.name}.{router}")).ToHashSet();
        var stateless = network.Module.named_modules().Where(m => !m.module.state_dict().Any()).Select(m => m.name).ToHashSet();
        var neverRun = exportable.Where(path => !ran.Contains(path) && !stateless.Contains(path) && !headRouters.Contains(path) && !moeLayers.Any(path.StartsWith)).ToList();
        Assert.True(neverRun.Count == 0, $"exportable modules the forward never called (through call()): {string.Join(", ", neverRun)}");
        foreach (var call in calls)
        {
            var check = new OnnxParity();
            call.Check(check);
            check.Check();
        }
        network.Dispose();
    }

    private static bool IsExportable(nn.Module module) => module is IOnnxExportable<string> or IOnnxExportable<OnnxSequenceInput>;

    /// <summary>A registered network and its forward on an input batch (text: a vocabulary of 300 tokens, padded rows).</summary>
    private static (IMixtureHeadsNetwork Network, Action Forward) Build(ModelConfig config)
    {
        if (config is DiTConfig dit)
        {
            var model = new MoHDiT(dit);
            DiTTestData.Randomise(model);   // a fresh DiT's zero modulation would make every block the identity
            var input = new DiTInput(randn(2, dit.Channels, dit.ImageSize, dit.ImageSize), tensor(new float[] { 5, 700 }), tensor(new long[] { 1, dit.NullClass }));
            return (model, () => model.forward(input));
        }
        var (network, tokens) = BuildWithInput(config);
        return (network, () => network.forward(tokens));
    }

    private static (IMixtureHeadsNetwork<Tensor> Network, Tensor Input) BuildWithInput(ModelConfig config)
    {
        switch (config)
        {
            case VisionTransformerConfig vision:
                return (new MoHVisionTransformer(vision), rand(3, vision.Channels, vision.ImageSize, vision.ImageSize) * 255);
            // A small image keeps the walk fast (the trunk takes any multiple of 32); a whole frozen trunk is called as one
            // module, so the walk checks it too (a split trunk runs its parts: PretrainedResNet18Tests export it whole).
            case HybridVisionTransformerConfig hybrid:
                return (new MoHHybridVisionTransformer(hybrid with { ImageSize = 64, TrainableTrunkStages = 0 }), rand(2, 3, 64, 64) * 255);
            case TextEncoderConfig text:
                var random = new Random(5);
                long[] Row(int length) => [TextTokenIds.Start, .. Enumerable.Range(0, length - 1).Select(_ => (long)random.Next(3, 400))];
                var vocabulary = CompactVocabulary.Build(Enumerable.Range(0, 50).Select(_ => Row(30)), minCount: 1, maxSize: 300);
                var network = new MoHTextEncoder(text with { MaxLength = 40, VocabularySize = vocabulary.Size, Classes = 3 }, vocabulary);
                var ids = new MixtureHeads.Data.TokenInput("ids", 40).Collate([Row(12), Row(30), Row(1)]).ToTensor(CPU);
                return (network, ids);
            case BertEncoderConfig bert:
                var rows = new Random(6);
                long[] Ids(int length) => [.. Enumerable.Range(0, length).Select(_ => (long)rows.Next(1, 400))];
                var encoder = new BertEncoder(bert with { Depth = 2, VocabularySize = 400, MaxPositions = 64, MaxLength = 40, Classes = 3 });   // 2 of 6 blocks: each block is checked alike
                return (encoder, new MixtureHeads.Data.TokenInput("ids", 40).Collate([Ids(12), Ids(30), Ids(1)]).ToTensor(CPU));
            case CausalLMConfig lm:
                return (new MoHCausalLM(lm with { MaxLength = 32 }), randint(0, lm.VocabularySize, [2, 12], dtype: ScalarType.Int64));
            case DiTConfig dit:
                throw new ArgumentException("Build handles DiT configs before this switch.", nameof(config));
            default:
                throw new NotSupportedException($"The walk has no input for {config.GetType().Name}; add one.");
        }
    }

    /// <summary>Hooks <paramref name="module"/> to record each call as a check; returns how to remove the hook, or null for a module that does not emit.</summary>
    private static Action? Record(string path, nn.Module module, List<Call> calls)
    {
        switch (module)
        {
            case MoHAttention attention:
                return attention.register_forward_hook((_, input, output) =>
                {
                    calls.Add(SequenceCall(path, input, output.Output, attention.EmitOnnx));
                    return output;
                }).remove;
            case MultiHeadMoE moe:
                return moe.register_forward_hook((_, x, mask, output) =>
                {
                    var (input, keep, expected) = (Keep(x), mask is null ? null : Keep(mask), Keep(output.Output));
                    calls.Add(new Call(path, check => check.Expect(path,
                        moe.EmitOnnx(check.Graph, new OnnxSequenceInput(check.Input("x", input), keep is null ? null : check.Input("mask", keep)), path),
                        expected, Tolerance.Reduction)));
                    return output;
                }).remove;
            case PostNormBlock postNorm:
                return postNorm.register_forward_hook((_, input, output) =>
                {
                    calls.Add(SequenceCall(path, input, output.X, postNorm.EmitOnnx));
                    return output;
                }).remove;
            case TransformerBlock block:
                return block.register_forward_hook((_, input, condition, output) =>
                {
                    calls.Add(SequenceCall(path, input, output.X, block.EmitOnnx, condition));
                    return output;
                }).remove;
            case nn.Module<Tensor, Tensor> tensorModule when module is IOnnxExportable<string> exportable:
                return tensorModule.register_forward_hook((_, input, output) =>
                {
                    var (x, expected) = (Keep(input), Keep(output));
                    calls.Add(new Call(path, check => check.Expect(path, exportable.EmitOnnx(check.Graph, check.Input("x", x), path), expected, ScaledTo(x))));
                    return output;
                }).remove;
            default:
                return null;
        }
    }

    /// <summary>The reduction tolerance with its absolute part scaled by the input's largest magnitude (at least 1): fp32
    /// rounding in a sum grows with its terms, e.g. a trunk's first convolution reading pixels 0-255.</summary>
    private static Tolerance ScaledTo(Tensor input)
    {
        double scale = input.is_floating_point() ? Math.Max(1, input.abs().max().item<float>()) : 1;
        return Tolerance.Reduction with { Name = $"{Tolerance.Reduction.Name} x{scale:F0}", Absolute = Tolerance.Reduction.Absolute * scale };
    }

    /// <summary>A check of an attention layer or block: emitted on what it read, compared on the real tokens.</summary>
    private static Call SequenceCall(string path, AttentionInput input, Tensor output, Func<OnnxGraphBuilder, OnnxSequenceInput, string, string> emit,
        Tensor? condition = null)
    {
        var (x, mask, rotary, expected) = (Keep(input.X), input.KeyPaddingMask is { } m ? Keep(m) : null, input.Rotary, Keep(output));
        var c = condition is null ? null : Keep(condition);
        return new Call(path, check =>
        {
            string? maskInput = mask is null ? null : check.Input("mask", mask);
            var y = emit(check.Graph, new OnnxSequenceInput(check.Input("x", x), maskInput, rotary, c is null ? null : check.Input("c", c)), path);
            check.Expect(path, RealTokensOnly(check, y, maskInput), RealTokensOnly(expected, mask), Tolerance.Reduction);
        });
    }

    // Padding tokens are zero vectors in a text model, so their routing is an exact tie that libtorch and ONNX Runtime
    // may break differently; their outputs are never read. Compare the real tokens [B, N, C] only.
    private static Tensor RealTokensOnly(Tensor y, Tensor? mask) => mask is null ? y : y * mask.unsqueeze(-1).to(y.dtype);

    private static string RealTokensOnly(OnnxParity check, string y, string? mask) =>
        mask is null ? y : check.Graph.Mul(y, check.Graph.Unsqueeze(check.Graph.Cast(mask, OnnxElementType.Float), -1));

    /// <summary>A copy that outlives the forward's dispose scopes.</summary>
    private static Tensor Keep(Tensor t) => t.detach().clone();
}
