// Pretrains a tiny MoH language model (byte-level, MH-MoE feed-forward) on the Brown corpus for a minute, prints
// sample generations, saves the model as an ONNX decoder graph, then reloads it through Microsoft.Extensions.AI's
// IChatClient - the scoring package's ONNX Runtime generator, no TorchSharp - and streams a completion.
//   dotnet run -c Release --project examples/BrownLM [-- --minutes 1 --architecture moh_lm_tiny_75_mhmoe2 --output folder --corpus brown|spam]
//   --quick: a few seconds on two documents (what the tests run); --corpus spam: SpamAssassin mail bodies instead of Brown
using System.Globalization;
using Microsoft.Extensions.AI;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Generation;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Text;
using Microsoft.ML.MixtureHeads.Training;

double minutes = 1;
bool quick = false;
string architecture = "moh_lm_tiny_75_mhmoe2";
string output = Path.Combine(Path.GetTempPath(), "brown-lm");
string corpus = "brown";
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--minutes") minutes = double.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (args[i] == "--architecture") architecture = args[++i];
    else if (args[i] == "--output") output = args[++i];
    else if (args[i] == "--quick") quick = true;
    else if (args[i] == "--corpus") corpus = args[++i];
    else throw new ArgumentException($"Unknown argument '{args[i]}'.");
}
var budget = quick ? TimeSpan.FromSeconds(10) : TimeSpan.FromMinutes(minutes);

// Brown split by genre, or SpamAssassin mail bodies; bytes as tokens, documents separated by the end-of-text id.
var codec = new ByteTokenizer();
var (train, validation) = corpus switch
{
    "brown" => BrownTexts(),
    "spam" => SpamAssassinText.Read(validationFraction: 0.1),
    _ => throw new ArgumentException($"Unknown corpus '{corpus}': brown or spam."),
};
var trainTexts = (quick ? train.Take(corpus == "spam" ? 20 : 2) : train).ToList();
var trainTokens = Encode(trainTexts);
var validationTokens = Encode(validation).Take(quick ? 4_000 : 20_000).ToArray();
Console.WriteLine($"{corpus}: {trainTexts.Count} training texts ({trainTokens.Length:N0} bytes), {validationTokens.Length:N0} validation bytes.");

const int window = 64;
var config = ModelRegistry.Get<CausalLMConfig>(architecture) with { VocabularySize = ByteTokenizer.VocabularySize, MaxLength = 128 };
using var model = (MoHCausalLM)ModelRegistry.Create(config);
long parameters = model.parameters().Sum(p => p.numel());
Console.WriteLine($"{architecture}: {parameters:N0} parameters; validation perplexity before training {CausalLMTraining.Perplexity(model, validationTokens, window):F1}");

var result = CausalLMTraining.Train(model, trainTokens, null, new CausalLMTrainingOptions
{
    SequenceLength = window, BatchSize = 16, Epochs = 50, LearningRate = 3e-3, WarmupEpochs = 0.02, WeightDecay = 0.01,
    MaxTrainingTime = budget, Seed = 1, LogEverySteps = 50,
    MetricsCallback = m => Console.WriteLine($"  epoch {m.Epoch} step {m.Step}: loss {m.Loss:F3}"),
});
Console.WriteLine($"Trained for {budget.TotalSeconds:F0} s; validation perplexity after training {CausalLMTraining.Perplexity(model, validationTokens, window):F1}");

// Samples with TorchSharp and the KV cache.
var generator = new CausalLMGenerator(model);
var sampling = new GenerationOptions { Temperature = 0.8, TopK = 40, MaxNewTokens = 60, Seed = 7, StopTokens = [ByteTokenizer.EndOfText] };
foreach (string prompt in new[] { "The jury said", "It was a" })
    Console.WriteLine($"Sample: {prompt}{string.Concat(generator.GenerateText(prompt, codec, sampling))}");

// Save the decoder graph; reload it through IChatClient (ONNX Runtime only) and stream a completion.
Directory.CreateDirectory(output);
string path = Path.Combine(output, "brown-lm.zip");
CausalLMDecoderOnnx.Save(model, codec, path);
Console.WriteLine($"Saved {path} ({new FileInfo(path).Length / 1024.0:F0} KiB)");

using IChatClient client = OnnxCausalLMChatClient.Load(path);
Console.Write("Chat (streamed): The jury said");
int pieces = 0;
await foreach (var update in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "The jury said")],
    new ChatOptions { Temperature = 0.8f, TopK = 40, MaxOutputTokens = 60, Seed = 7 }))
{
    Console.Write(update.Text);
    if (update.Text.Length > 0) pieces++;
}
Console.WriteLine();
Console.WriteLine($"Streamed {pieces} pieces through ONNX Runtime.");

long[] Encode(IEnumerable<string> texts) => [.. texts.SelectMany(t => codec.Encode(t).Append(ByteTokenizer.EndOfText))];

static (IReadOnlyList<string> Train, IReadOnlyList<string> Validation) BrownTexts()
{
    var (train, validation) = BrownCorpus.Split(BrownCorpus.Read(), validationFraction: 0.1);
    return ([.. train.Select(d => d.Text)], [.. validation.Select(d => d.Text)]);
}
