using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.ML.MixtureHeads.Models;

namespace Microsoft.ML.MixtureHeads.Benchmarks.LMClaims;

/// <summary>
/// The papers' language-model claims at small scale, in one command that regenerates docs/results.md and its PNGs
/// (docs/images/results/): the MH-MoE ordering at equal FLOPs, dense-to-MoH conversion recovery, pretraining that pays
/// off on SpamAssassin, and routing usage with and without the balance loss. --quick runs a smoke version that writes
/// only benchmarks/results/lm-claims.md and a scratch folder.
/// </summary>
public sealed class LMClaimsBenchmarks : IBenchmarkSuite
{
    public string Name => "lm-claims";

    public IReadOnlyList<BenchTable> Run(BenchSettings settings)
    {
        var clock = Stopwatch.StartNew();
        bool quick = settings.Quick;
        int[] seeds = quick ? [1] : [1, 2, 3];
        int steps = quick ? 12 : 450, continueSteps = quick ? 8 : 225;
        int[] labelCounts = quick ? [200] : [200, 1000];
        string docs = Path.Combine(settings.RepositoryRoot, "docs");
        string output = quick ? Directory.CreateTempSubdirectory("lm-claims-").FullName : docs;
        string images = Path.Combine(output, "images", "results");
        string scratch = Directory.CreateTempSubdirectory("lm-claims-scratch-").FullName;
        string load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";
        var started = DateTime.UtcNow;

        var corpus = new BrownBytes(validationBytes: quick ? 4_000 : 50_000);
        var recipe = new LMRecipe(corpus, steps, curvePoints: 0);
        Console.Error.WriteLine($"Brown: {corpus.TrainFiles} training files ({corpus.Train.Length:N0} bytes), {corpus.ValidationFiles} held out ({corpus.Validation.Length:N0} bytes scored)");

        // 1. Ordering. The MH-MoE h=2 models are kept for the usage study (balance-loss weight 0.01).
        var kept = new Dictionary<int, MoHCausalLM>();
        var ordering = OrderingStudy.Run(recipe, seeds, (name, seed, run) =>
        {
            if (name == "mhmoe2" && seed == seeds[0]) kept[seed] = run.Model;
            else if (name == "dense" && seed == seeds[0]) kept[-1] = run.Model;
            else run.Model.Dispose();
        });
        var orderingTable = new BenchTable($"MH-MoE ordering on Brown: validation perplexity after {steps} steps of {LMRecipe.Batch} x {LMRecipe.Window} bytes, {seeds.Length} seed(s)",
            "feed-forward", "FFN FLOPs/token", "parameters", "perplexity (mean ± sd)", "per seed");
        foreach (var row in ordering)
            orderingTable.Add(row.Name, row.FfnFlopsPerToken.ToString("N0", CultureInfo.InvariantCulture), row.Parameters.ToString("N0", CultureInfo.InvariantCulture),
                row.Perplexity.Format(3), row.Perplexity.List(3));
        orderingTable.Notes.Add(OrderingStudy.Verdict(ordering, bitNet: false));
        orderingTable.Notes.Add(OrderingStudy.Verdict(ordering, bitNet: true));
        orderingTable.Notes.Add("Paper (2411.16205, RedPajama, equal FLOPs): SMoE 10.90 > fine-grained 10.74 > MH-MoE h=2 10.70 > h=3 10.51. Here: moh_lm_tiny presets (d 96, 4 blocks, experts in blocks 2 and 4, MoH-75 attention), byte tokens, genre-stratified held-out Brown files; FFN FLOPs/token is that of an expert layer (2411 parity; the dense SwiGLU has the SMoE's FLOPs with 1/8 of its expert parameters).");
        ClaimPlots.Ordering(ordering, seeds.Length, steps, Path.Combine(images, "lm-ordering.png"));

        // 2. Conversion recovery.
        var continuation = new LMRecipe(corpus, continueSteps, curvePoints: 6, dataOffsetSeed: 17);
        var conversion = ConversionStudy.Run(recipe, continuation, seeds);
        var conversionTable = new BenchTable($"Dense → MoH conversion (parameter-free router, first head shared): {steps} dense steps, then {continueSteps} continued steps, {seeds.Length} seed(s)",
            "continued model", "active heads", "dense before", "right after conversion", $"after {continueSteps} steps", "per seed (after)");
        foreach (var arm in conversion.Arms)
            conversionTable.Add(arm.Name, $"{arm.ActivePercent} %", conversion.DensePerplexity.Format(3), arm.AfterConversion.Format(3), arm.AfterContinuation.Format(3), arm.AfterContinuation.List(3));
        conversionTable.Notes.Add("Perplexity on the held-out Brown bytes. The continued phase reads a different slice of the training files at the same peak learning rate with a fresh warmup and cosine decay; the dense arm continues the same way, so the comparison is at equal steps.");
        ClaimPlots.Conversion(conversion, Path.Combine(images, "lm-conversion.png"));

        // 3. Usage with and without the balance loss (MH-MoE h=2, first seed).
        var withBalance = kept[seeds[0]];
        var withoutBalance = LMRecipe.Create(withBalance.Config, seeds[0]);
        var noBalanceRun = recipe.Train(withoutBalance, seeds[0], "mhmoe2, balance weight 0", balanceLossWeight: 0);
        var usages = new[]
        {
            ("balance weight 0.01", UsageStudy.Measure(withBalance, corpus.Validation, LMRecipe.Window), recipe.Perplexity(withBalance)),
            ("balance weight 0", UsageStudy.Measure(withoutBalance, corpus.Validation, LMRecipe.Window), noBalanceRun.Perplexity),
        };
        var usageTable = new BenchTable($"Routing usage of MH-MoE h=2 (seed {seeds[0]}) on held-out windows",
            "balance-loss weight", "routed-head usage CV", "expert load CV", "least / most used expert share", "perplexity");
        foreach (var (label, usage, perplexity) in usages)
        {
            var loads = usage.ExpertLoad.SelectMany(l => l).ToList();
            usageTable.Add(label, usage.HeadImbalance.ToString("F3", CultureInfo.InvariantCulture), usage.ExpertImbalance.ToString("F3", CultureInfo.InvariantCulture),
                FormattableString.Invariant($"{loads.Min():P2} / {loads.Max():P2}"), perplexity.ToString("F3", CultureInfo.InvariantCulture));
        }
        usageTable.Notes.Add("CV: coefficient of variation (sd / mean) of the shares within a layer, averaged over layers; 0 is perfectly even. The balance loss covers both routers (attention heads and experts).");
        ClaimPlots.Usage(usages.Select(u => (u.Item1, u.Item2)).ToList(), Path.Combine(images, "lm-usage.png"));
        withoutBalance.Dispose();
        withBalance.Dispose();

        // 4. Pretraining that pays off: the dense-FFN MoH-75 LM of the first seed.
        var pretrained = kept[-1];
        var pretraining = PretrainingStudy.Run(pretrained, labelCounts, seeds, scratch);
        pretrained.Dispose();
        var pretrainingTable = new BenchTable($"SpamAssassin classification: {PretrainingStudy.HeldOut} fixed held-out mails, {seeds.Length} seed(s)",
            "start", "labelled mails", "accuracy (mean ± sd)", "per seed", "macro F1 (mean)");
        foreach (var row in pretraining)
            pretrainingTable.Add(row.Start, row.Labels, FormattableString.Invariant($"{100 * row.Accuracy.Mean:F2} ± {100 * row.Accuracy.StandardDeviation:F2} %"),
                string.Join(", ", row.Accuracy.Values.Select(v => (100 * v).ToString("F2", CultureInfo.InvariantCulture))), (100 * row.MacroF1.Mean).ToString("F2", CultureInfo.InvariantCulture));
        pretrainingTable.Notes.Add($"Both MoH rows: the moh_lm_tiny_75 network (LMTextClassifier: embeddings and blocks, mean pooling, new head; the first {LMRecipe.Window} bytes of a mail), learning rate as the row says (a language-model start fine-tunes at LearningRate), batch 16, {PretrainingStudy.Epochs(200)} epochs at 200 labels and {PretrainingStudy.Epochs(1000)} at 1,000; the pretrained start is the Brown LM of the ordering study (seed {seeds[0]}, {steps} steps).");

        Directory.Delete(scratch, recursive: true);
        var tables = new[] { orderingTable, conversionTable, usageTable, pretrainingTable };
        WriteResults(Path.Combine(output, "results.md"), tables, clock.Elapsed, started, load, settings, quick);
        Console.Error.WriteLine($"lm-claims: {clock.Elapsed:hh\\:mm\\:ss}; wrote {Path.Combine(output, "results.md")}");
        return tables;
    }

    private static void WriteResults(string path, IReadOnlyList<BenchTable> tables, TimeSpan elapsed, DateTime started, string load, BenchSettings settings, bool quick)
    {
        var text = new StringBuilder();
        text.AppendLine("# The papers' language-model claims at small scale").AppendLine();
        text.AppendLine($"Generated by `./build.sh bench --suite lm-claims`{(quick ? " --quick" : "")} on {started:yyyy-MM-dd HH:mm} UTC: {Environment.ProcessorCount} cores, {settings.Threads} threads, load average {load} at the start; the whole run took {elapsed:hh\\:mm\\:ss}.");
        text.AppendLine("Every table and picture below is what that run printed and drew; rerunning the command regenerates this page.").AppendLine();
        string[] pictures = ["lm-ordering.png", "lm-conversion.png", "lm-usage.png"];
        for (int i = 0; i < tables.Count; i++)
        {
            text.AppendLine(tables[i].ToMarkdown());
            if (i < pictures.Length) text.AppendLine($"![{tables[i].Title}](images/results/{pictures[i]})").AppendLine();
        }
        File.WriteAllText(path, text.ToString());
    }
}
