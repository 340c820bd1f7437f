using System.Text.Json;
using Microsoft.ML.MixtureHeads.Data;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using Microsoft.ML.MixtureHeads.Text;
using Microsoft.ML.MixtureHeads.Training;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Persistence;

/// <summary>
/// The scale-out path: python/mixtureheads_lm/train_ddp.py trains the PyTorch LM with DistributedDataParallel on 2 CPU
/// ranks (gloo, one thread each) on two Brown texts; the ranks end with identical weights although they read different
/// batches; the checkpoint loads into .NET and scores the same as the PyTorch model, and keeps training in .NET.
/// </summary>
public sealed class DistributedTrainingTests
{
    private static readonly CausalLMConfig Config = new()
    {
        Dim = 48, Depth = 2, Heads = 4, SharedHeads = 1, RoutedTopK = 2, MlpRatio = 2, VocabularySize = ByteTokenizer.VocabularySize, MaxLength = 32,
        FeedForward = FeedForwardKind.MultiHeadMoE, MoE = MoEPresets.MultiHead(48, 128, heads: 2, experts: 4) with { Dim = 0 }, MoEInterval = 2,
    };

    [Fact]
    public void Two_DDP_ranks_train_in_sync_and_the_result_scores_the_same_and_keeps_training_in_dotnet()
    {
        using var scope = NewDisposeScope();
        using var work = new TemporaryFolder();
        string request = Path.Combine(work.Path, "request.json"), output = Path.Combine(work.Path, "checkpoint");
        File.WriteAllText(request, CausalLMConfigJson.Write(Config));
        string brown = DatasetLocations.Brown;
        string printed = PythonLM.Run("train_ddp", [
            "--data", Path.Combine(brown, "ca01"), Path.Combine(brown, "cb01"), "--out", output, "--config", request,
            "--nproc", "2", "--threads", "1", "--seq-len", "32", "--batch-size", "4", "--steps", "3", "--log-every", "1",
            "--save-rank-weights", "--seed", "5",
        ]);

        // DDP synchronised: both ranks hold the same weights, every one moved from the shared start, from different data.
        var rank0 = Safetensors.LoadStateDict(Path.Combine(output, "rank0.safetensors"));
        var rank1 = Safetensors.LoadStateDict(Path.Combine(output, "rank1.safetensors"));
        var initial = Safetensors.LoadStateDict(Path.Combine(output, "initial.safetensors"));
        Assert.Equal(rank0.Keys.Order(), rank1.Keys.Order());
        foreach (var (name, tensor) in rank0)
        {
            ParityAssert.Equal($"rank 0 vs rank 1: {name}", tensor, rank1[name]);
            Assert.False(tensor.equal(initial[name]).all().item<bool>(), $"{name} did not change in training:\n{printed}");
        }
        using var log = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "training_log.json")));
        Assert.Equal(2, log.RootElement.GetProperty("world_size").GetInt32());
        var firstLosses = log.RootElement.GetProperty("first_step_loss_per_rank").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(2, firstLosses.Length);
        Assert.NotEqual(firstLosses[0], firstLosses[1]);   // the ranks read different windows

        // The checkpoint is rank 0's weights and scores in .NET as in PyTorch.
        using var model = CausalLMCheckpoint.Load(output);
        Assert.Equal(Config, model.Config);
        foreach (var (name, parameter) in model.named_parameters()) ParityAssert.Equal($"checkpoint: {name}", rank0[name], parameter);
        var tokens = tensor(PackedSequences.Encode(["The jury said it did find that many of Georgia's registration laws are outmoded."], new ByteTokenizer(), ByteTokenizer.EndOfText)[..32]).reshape(1, 32);
        var expected = PythonLM.Logits(output, tokens);
        model.eval();
        using (no_grad())
            ParityAssert.Close("DDP-trained model: logits", expected, model.forward(tokens).Output, Tolerance.Reduction);

        // It keeps training in .NET: one step of next-token training moves the weights.
        var before = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
        var stream = PackedSequences.Encode([File.ReadAllText(Path.Combine(brown, "ca01"))[..400]], new ByteTokenizer(), ByteTokenizer.EndOfText);
        var result = CausalLMTraining.Train(model, stream, null, new CausalLMTrainingOptions
        {
            Epochs = 1, BatchSize = 512, SequenceLength = 32, LearningRate = 1e-3, WarmupEpochs = 0, Seed = 1, Device = "cpu", Threads = 1,
        });
        Assert.Single(result.Summary.Epochs);
        foreach (string name in new[] { "tok_embeddings.weight", "blocks.0.attn.qkv.weight", "blocks.0.attn.wg.weight", "blocks.1.moe.wg.weight", "norm.weight" })
            Assert.False(model.get_parameter(name)!.equal(before[name]).all().item<bool>(), $"{name} did not change in the .NET training step");
    }
}
