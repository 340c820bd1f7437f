// Loads a MoH language model trained with PyTorch (python/mixtureheads_lm/train_ddp.py, any number of DDP ranks) into
// .NET, measures its perplexity on the last Brown texts, and streams a completion. docs/scale.md walks through it.
//
//   dotnet run examples/lm-from-pytorch/app.cs -- <checkpoint folder> ["prompt"]
//
// The folder holds model.safetensors and config.json; CausalLMCheckpoint.Load rebuilds a trainable MoHCausalLM from
// them (CausalLMTraining.Train continues training it, CausalLMCheckpoint.Save writes it back for PyTorch).
#:project ../../Microsoft.ML.MixtureHeads/Microsoft.ML.MixtureHeads.csproj
#:project ../../Microsoft.ML.MixtureHeads.Datasets/Microsoft.ML.MixtureHeads.Datasets.csproj
#:package TorchSharp-cpu
#:property PublishAot=false

using System.Diagnostics;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Generation;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Text;
using Microsoft.ML.MixtureHeads.Training;

if (args.Length is < 1 or > 2)
{
    Console.Error.WriteLine("usage: dotnet run examples/lm-from-pytorch/app.cs -- <checkpoint folder> [\"prompt\"]");
    return 2;
}
string folder = args[0], prompt = args.Length > 1 ? args[1] : "The jury said";

var clock = Stopwatch.StartNew();
using var model = CausalLMCheckpoint.Load(folder);
var config = model.Config;
long parameters = model.parameters().Sum(p => p.numel());
Console.WriteLine($"Loaded {folder} in {clock.Elapsed.TotalSeconds:F1} s: {parameters:N0} parameters, d={config.Dim}, {config.Depth} blocks, " +
                  $"{config.Heads} heads ({config.Routing}, {config.ActiveHeadPercent}% active), {config.FeedForward}, vocabulary {config.VocabularySize}.");

// Perplexity on the last 5 Brown texts (byte-level, as the PyTorch script tokenizes).
var codec = new ByteTokenizer();
var held = BrownCorpus.Read().TakeLast(5).Select(d => d.Text).ToList();
var tokens = held.SelectMany(text => codec.Encode(text).Append(ByteTokenizer.EndOfText)).ToList();
clock.Restart();
double perplexity = CausalLMTraining.Perplexity(model, tokens, sequenceLength: Math.Min(128, config.MaxLength));
Console.WriteLine($"Perplexity on the last 5 Brown texts ({tokens.Count:N0} bytes): {perplexity:F2} ({clock.Elapsed.TotalSeconds:F1} s)");

// Streamed generation with the KV cache.
model.eval();
var generator = new CausalLMGenerator(model);
var options = new GenerationOptions { MaxNewTokens = 240, Temperature = 0.8, TopK = 40, Seed = 1 };
Console.Write($"Completion of \"{prompt}\": {prompt}");
clock.Restart();
int pieces = 0;
foreach (string piece in generator.GenerateText(prompt, codec, options))
{
    Console.Write(piece);
    pieces++;
}
Console.WriteLine();
Console.WriteLine($"Generated {options.MaxNewTokens} tokens at most ({pieces} text pieces) in {clock.Elapsed.TotalSeconds:F1} s.");
return 0;
