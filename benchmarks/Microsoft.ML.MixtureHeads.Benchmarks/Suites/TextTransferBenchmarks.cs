using System.Diagnostics;
using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Scoring;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Benchmarks;

/// <summary>
/// Starting from pretrained weights with few labels (the text half of the `transfer` comparison): on SpamAssassin with
/// 200 and 1,000 labelled mails and one fixed held-out set, all-MiniLM-L6-v2 converted to MoH-75 and fine-tuned, the
/// dense MiniLM fine-tuned on the same budget, ML.NET's FeaturizeText + SDCA, frozen MiniLM mean embeddings (ONNX
/// Runtime on the original model) + L-BFGS maximum entropy, and the from-scratch MoH text encoder.
/// </summary>
public sealed class TextTransferBenchmarks : IBenchmarkSuite
{
    private const int HeldOut = 600, MaxLength = 128, BatchSize = 16;

    public string Name => "transfer-text";

    public IReadOnlyList<BenchTable> Run(BenchSettings settings)
    {
        int epochs = settings.Epochs ?? 3;
        int[] sizes = settings.Quick ? [200] : [200, 1000];
        var ml = new MLContext(seed: 1);
        var random = new Random(11);
        var mails = SpamAssassin.Read().Select(m => new Mail { Text = m.Text, Label = m.Label }).OrderBy(_ => random.Next()).ToList();
        var test = ml.Data.LoadFromEnumerable(mails.Take(HeldOut).ToList());
        var pool = mails.Skip(HeldOut).ToList();
        var table = new BenchTable($"SpamAssassin transfer: {HeldOut} fixed held-out mails, {epochs} epoch(s) for the fine-tuned and from-scratch networks, {settings.Threads} thread(s)",
            "model", "labelled mails", "accuracy", "macro F1", "train wall time");
        foreach (int size in sizes)
        {
            var train = ml.Data.LoadFromEnumerable(pool.Take(size).ToList());
            var key = ml.Transforms.Conversion.MapValueToKey("Label");
            Add(table, "FeaturizeText + SDCA (ML.NET)", size, ml, test,
                () => key.Append(ml.Transforms.Text.FeaturizeText("Features", nameof(Mail.Text)))
                    .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy()).Fit(train));
            Add(table, "MiniLM mean embeddings (frozen) + L-BFGS", size, ml, test, () => FrozenEmbeddings(ml).Fit(train));
            Add(table, "MoH text from scratch (moh_text_tiny_75)", size, ml, test,
                () => key.Append(ml.MoHTextClassifier(new() { Architecture = "moh_text_tiny_75", Epochs = epochs, BatchSize = 32, Seed = 1 })).Fit(train));
            Add(table, "MoH-MiniLM-75 (converted, fine-tuned)", size, ml, test,
                () => key.Append(ml.MoHTextClassifier(FineTune("moh_minilm_l6_75", epochs))).Fit(train));
            Add(table, "MiniLM dense (fine-tuned)", size, ml, test,
                () => key.Append(ml.MoHTextClassifier(FineTune("minilm_l6", epochs))).Fit(train));
        }
        table.Notes.Add($"Fine-tuning: Architecture only (the trainer's pretrained learning rate 1e-4, AdamW, warmup 1 epoch then cosine), batch {BatchSize}, first {MaxLength} WordPiece tokens, seed 1; one seed per row.");
        table.Notes.Add("Frozen embeddings: the original model.onnx in ONNX Runtime, mean of the last hidden states over real tokens (first 128), computed for the training mails inside the timed fit.");
        return [table];
    }

    private static MoHTextClassificationTrainer.Options FineTune(string architecture, int epochs) => new()
    {
        TextColumnName = nameof(Mail.Text), Architecture = architecture, Epochs = epochs, BatchSize = BatchSize, MaxLength = MaxLength, Seed = 1,
        MetricsCallback = m => Console.Error.WriteLine($"  {architecture}: {m}"),
    };

    private static void Add(BenchTable table, string model, int size, MLContext ml, IDataView test, Func<ITransformer> fit)
    {
        Console.Error.WriteLine($"{model}, {size} mails...");
        var clock = Stopwatch.StartNew();
        var fitted = fit();
        var wall = clock.Elapsed;
        var metrics = ml.MulticlassClassification.Evaluate(fitted.Transform(test));
        double macroF1 = ClassificationQuality.MacroF1(metrics);
        table.Add(model, size, $"{metrics.MicroAccuracy:P2}", $"{macroF1:P2}", $"{wall:mm\\:ss}");
        Console.Error.WriteLine($"| {model} | {size} | {metrics.MicroAccuracy:P2} | {macroF1:P2} | {wall:mm\\:ss} |");   // each row as soon as it is measured
        (fitted as IDisposable)?.Dispose();
    }

    /// <summary>Label key, frozen MiniLM mean embeddings as Features, L-BFGS maximum entropy.</summary>
    private static IEstimator<ITransformer> FrozenEmbeddings(MLContext ml)
    {
        var session = new Lazy<OnnxSession>(() => new OnnxSession(PretrainedEncoders.ReadModel(PretrainedEncoderNames.AllMiniLML6V2)));
        var embed = ml.Transforms.CustomMapping<MailText, Embedding>((mail, embedding) => embedding.Features = Embed(session.Value, mail.Text), contractName: null);
        return ml.Transforms.Conversion.MapValueToKey("Label").Append(embed).AppendCacheCheckpoint(ml)   // L-BFGS passes over the data many times
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy());
    }

    private static float[] Embed(OnnxSession session, string text)
    {
        using var scope = NewDisposeScope();
        var ids = tensor(BertTokenIds.Encode(text).Take(MaxLength).ToArray()).unsqueeze(0);   // [1, L]
        var hidden = session.Run(("input_ids", ids), ("attention_mask", ones_like(ids)), ("token_type_ids", zeros_like(ids)))["last_hidden_state"];
        return hidden.mean([1]).squeeze(0).data<float>().ToArray();
    }

    private sealed class Mail
    {
        public string Text { get; set; } = "";
        public string Label { get; set; } = "";
    }

    private sealed class MailText
    {
        public string Text { get; set; } = "";
    }

    private sealed class Embedding
    {
        [VectorType(384)]
        public float[] Features { get; set; } = [];
    }
}
