// Trains a class-conditional MoH-DiT on Fashion-MNIST for a few minutes, writes a grid PNG of generated images (one row
// per class) from the EMA weights, exports the denoiser to ONNX and samples the same grid with ONNX Runtime (the
// scoring package, no TorchSharp), which gives the same pixels.
//   dotnet run -c Release --project examples/DiTFashion [-- --minutes 3 --architecture moh_dit_tiny_75 --output folder]
//   --quick: a few seconds on 500 images (what the tests run)
using System.Globalization;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Diffusion;
using Microsoft.ML.MixtureHeads.Generation;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Training;

double minutes = 3;
bool quick = false;
string architecture = "moh_dit_tiny_75";
string output = Path.Combine(Path.GetTempPath(), "dit-fashion");
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--minutes") minutes = double.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (args[i] == "--architecture") architecture = args[++i];
    else if (args[i] == "--output") output = args[++i];
    else if (args[i] == "--quick") quick = true;
    else throw new ArgumentException($"Unknown argument '{args[i]}'.");
}
Directory.CreateDirectory(output);

// Fashion-MNIST training images, the same number of each class, pixels scaled to [0, 1].
var data = FashionMnistData.Read(FashionMnistSplit.Train).Balanced(quick ? 50 : 500);
var images = Enumerable.Range(0, data.Count).Select(i => data.Pixels(i).ToArray().Select(p => p / 255f).ToArray()).ToList();
var labels = Enumerable.Range(0, data.Count).Select(data.Label).ToList();
Console.WriteLine($"Fashion-MNIST: {data.Count:N0} training images.");

TorchSharp.torch.manual_seed(1);
var config = ModelRegistry.Get<DiTConfig>(architecture);
using var model = new MoHDiT(config);
Console.WriteLine($"{architecture}: {model.parameters().Sum(p => p.numel()) / 1e6:F2}M parameters, {config.ActiveHeadPercentOverall}% of heads active.");
var options = new DiTTrainingOptions
{
    Epochs = quick ? 2 : 1000, BatchSize = quick ? 50 : 64, LearningRate = 1e-3, WarmupEpochs = 0.5,
    ValidationFraction = 0.1, Seed = 1, LogEverySteps = 100,
    MaxTrainingTime = quick ? null : TimeSpan.FromMinutes(minutes),
    MetricsCallback = m => Console.WriteLine(m),
};
var result = DiTTraining.Train(model, images, labels, options);
var epochs = result.Summary.Epochs;
if (epochs.Count == 0) Console.WriteLine("The time budget ended training inside the first epoch: no validation loss yet.");
else Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"validation loss ({config.Prediction} MSE) after epoch 1 {epochs[0].ValidationLoss:F4}, after epoch {epochs.Count} {epochs[^1].ValidationLoss:F4}"));

// Generate from the EMA weights: DDIM, classifier-free guidance.
using var ema = result.Ema;
var sampling = new SamplingOptions { Steps = quick ? 10 : 50, GuidanceScale = 2, Seed = 7 };
int perClass = quick ? 4 : 8;
var generated = new DiTGenerator(ema).GenerateEveryClass(perClass, sampling);
string gridPath = Path.Combine(output, "dit-grid.png");
ImageGrid.WritePng(gridPath, generated);
Console.WriteLine($"Wrote {gridPath} ({FashionMnistData.ClassNames.Count} rows: {string.Join(", ", FashionMnistData.ClassNames)})");

// The denoiser as ONNX, sampled with ONNX Runtime: the same loop and noise, so the same images.
string onnxPath = Path.Combine(output, "dit-denoiser.onnx");
File.WriteAllBytes(onnxPath, DiTOnnx.Export(ema));
using var onnx = new OnnxDiTGenerator(File.ReadAllBytes(onnxPath));
var fromOnnx = Enumerable.Range(0, onnx.Classes).SelectMany(c => onnx.Generate(c, perClass, sampling with { Seed = sampling.Seed + c })).ToList();
double difference = generated.Zip(fromOnnx).Max(p => p.First.Pixels.Zip(p.Second.Pixels).Max(v => Math.Abs(v.First - v.Second)));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Saved {onnxPath}; ONNX Runtime vs TorchSharp: max pixel difference {difference:E2}"));
