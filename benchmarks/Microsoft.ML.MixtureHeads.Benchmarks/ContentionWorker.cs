using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Platform;
using Microsoft.ML.MixtureHeads.Training;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Benchmarks;

/// <summary>
/// The child process of the contention suite (<c>contention-worker THREADS STEPS</c>): trains moh_vit_tiny_75 on one
/// batch of 128 in Auto precision (bf16 on a CPU with native bf16) for STEPS steps after 2 warm-up steps and prints one JSON object with the
/// images/s. THREADS "default" runs the training loop's default (<see cref="IdleCoreThreads"/>), warming up until it
/// has read the load twice. STEPS "timeline:S" instead prints "ready" after the warm-up, then trains for S seconds and
/// prints one JSON object per <see cref="TimelineWindow"/> (its end in seconds after "ready", images/s, threads at its
/// end). A child of its own, because libgomp reads its wait policy once, when libtorch loads.
/// </summary>
internal static class ContentionWorker
{
    public const string Command = "contention-worker";

    /// <summary>The THREADS argument for the training loop's default thread policy.</summary>
    public const string DefaultThreads = "default";

    /// <summary>The STEPS argument's prefix for a timeline run.</summary>
    public const string TimelinePrefix = "timeline:";

    /// <summary>The length of one timeline window.</summary>
    public static readonly TimeSpan TimelineWindow = TimeSpan.FromSeconds(2);

    public static int Run(string[] args)
    {
        string waitPolicy = OpenMpWaitPolicy.Note;   // our start-up runs before libtorch loads, as in an app that calls our API first
        bool timeline = args[1].StartsWith(TimelinePrefix, StringComparison.Ordinal);
        int steps = timeline ? 0 : int.Parse(args[1], CultureInfo.InvariantCulture);
        bool followIdleCores = args[0] == DefaultThreads;
        if (!followIdleCores) set_num_threads(int.Parse(args[0], CultureInfo.InvariantCulture));
        using var idleCores = followIdleCores ? IdleCoreThreads.Start(null) : null;
        manual_seed(0);
        using var scope = NewDisposeScope();
        var images = rand(128, 1, 28, 28) * 255;
        var labels = randint(0, 10, [128]);
        using var network = new MoHVisionTransformer(ModelRegistry.Get<VisionTransformerConfig>("moh_vit_tiny_75"));
        using var optimizer = new AdamWOptimizer([new(network.parameters().ToList(), WeightDecay: 0.05)]);
        using var precision = MixedPrecision.Use(TrainingPrecisions.ComputeType(TrainingPrecision.Auto, CPU));
        network.train();
        void Step()
        {
            using var stepScope = NewDisposeScope();
            var output = network.forward(images);
            var loss = F.cross_entropy(output.Output, labels).add(output.BalanceLoss!, Scalars.Of(0.01));
            optimizer.ZeroGrad();
            loss.backward();
            optimizer.Step(1e-4);
            idleCores?.Check();
        }
        var warmUp = Stopwatch.StartNew();
        do Step(); while (idleCores is not null && warmUp.Elapsed < 2 * IdleCoreThreads.Interval);
        Step();
        if (timeline)
        {
            Console.WriteLine("ready");
            RunTimeline(Step, TimeSpan.FromSeconds(double.Parse(args[1][TimelinePrefix.Length..], CultureInfo.InvariantCulture)));
            return 0;
        }
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) Step();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"images_per_second\": {steps * 128 / clock.Elapsed.TotalSeconds:F2}, \"wait_policy\": {System.Text.Json.JsonSerializer.Serialize(waitPolicy)}, \"threads\": {get_num_threads()}}}"));
        return 0;
    }

    /// <summary>Steps for <paramref name="length"/>, printing each window's images/s and the thread count at its end.</summary>
    private static void RunTimeline(Action step, TimeSpan length)
    {
        var clock = Stopwatch.StartNew();
        TimeSpan windowStart = TimeSpan.Zero;
        int stepsInWindow = 0;
        while (clock.Elapsed < length)
        {
            step();
            stepsInWindow++;
            var now = clock.Elapsed;
            if (now - windowStart < TimelineWindow) continue;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"end_s\": {now.TotalSeconds:F2}, \"images_per_second\": {stepsInWindow * 128 / (now - windowStart).TotalSeconds:F2}, \"threads\": {get_num_threads()}}}"));
            (windowStart, stepsInWindow) = (now, 0);
        }
    }
}
