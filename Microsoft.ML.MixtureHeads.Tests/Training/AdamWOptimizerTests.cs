using Microsoft.ML.MixtureHeads.Tests.Parity;
using Microsoft.ML.MixtureHeads.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Training;

/// <summary>Our AdamW against <c>torch.optim.AdamW</c>: same parameters, same gradients, a changing learning rate.</summary>
public sealed class AdamWOptimizerTests
{
    private const int Steps = 4;
    private const double LearningRate = 1e-2, WeightDecay = 0.05;
    private static readonly long[][] Shapes = [[5, 3], [3], [4, 2]];
    private static readonly int[] Decayed = [0, 2];
    private const int WithoutGradientAtStep1 = 2; // a parameter the loss did not reach in one step is left alone

    [Fact]
    public void Updates_match_torch_AdamW_with_per_group_weight_decay_and_missing_gradients()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var inputs = new Dictionary<string, Tensor>();
        for (int i = 0; i < Shapes.Length; i++) inputs[$"p/{i}"] = randn(Shapes[i]);
        for (int step = 0; step < Steps; step++)
            for (int i = 0; i < Shapes.Length; i++)
                if (!(step == 1 && i == WithoutGradientAtStep1)) inputs[$"g{step}/{i}"] = randn(Shapes[i]) * (step + 1);
        var settings = new Dictionary<string, object> { ["steps"] = Steps, ["lr"] = LearningRate, ["weight_decay"] = WeightDecay, ["decayed"] = Decayed };
        var reference = PythonReference.Run([new ReferenceCase("adamw", settings, inputs)])[0];

        var parameters = Enumerable.Range(0, Shapes.Length).Select(i => new Parameter(inputs[$"p/{i}"].clone())).ToList();
        using var optimizer = new AdamWOptimizer(
        [
            new(Decayed.Select(i => parameters[i]).ToList(), WeightDecay),
            new(Enumerable.Range(0, Shapes.Length).Except(Decayed).Select(i => parameters[i]).ToList(), WeightDecay: 0),
        ]);
        for (int step = 0; step < Steps; step++)
        {
            optimizer.ZeroGrad();
            for (int i = 0; i < Shapes.Length; i++)
                if (inputs.TryGetValue($"g{step}/{i}", out var grad)) parameters[i].grad = grad.clone();
            optimizer.Step(LearningRate * (step + 1));
        }

        for (int i = 0; i < Shapes.Length; i++)
        {
            Assert.False(parameters[i].detach().eq(inputs[$"p/{i}"]).all().item<bool>(), $"parameter {i} did not move");
            ParityAssert.Close($"adamw p/{i}", reference[$"p/{i}"], parameters[i].detach(), Tolerance.Fp32);
        }
    }
}
