using System.Text.Json;
using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Scoring;
using Microsoft.ML.MixtureHeads.Tests.Infrastructure;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using Microsoft.ML.MixtureHeads.Tests.Text;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Pretrained;

/// <summary>
/// The pretrained text path on real SpamAssassin mails: <c>Architecture = "moh_minilm_l6_75"</c> fine-tunes all-MiniLM-L6-v2
/// converted to MoH, the model saves to a zip, and a child app that references the scoring package and the MiniLM
/// package (for the vocabulary), not TorchSharp, loads it and predicts what this process predicts.
/// </summary>
public sealed class PretrainedTextEndToEndTests
{
    private sealed class Mail
    {
        public string Text { get; set; } = "";
        public string Label { get; set; } = "";
    }

    [Fact]
    public void MoH_MiniLM_fits_on_real_mails_saves_and_predicts_identically_in_a_child_process_without_TorchSharp()
    {
        var ml = new MLContext(seed: 7);
        var mails = SpamMails.Messages.Where((_, i) => i % 150 == 0).Select(m => new Mail { Text = m.Text, Label = m.Label }).ToList();
        var data = ml.Data.LoadFromEnumerable(mails);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MoHTextClassifier(new()
        {
            Architecture = "moh_minilm_l6_75", MaxLength = 24, Epochs = 1, BatchSize = 16, Seed = 8,
        }));
        string[] texts = [.. mails.Take(12).Select(m => m.Text), "", "Zqxjv wkhpt floopdeeblarg snorkelwump"];
        string work = Directory.CreateTempSubdirectory("mixtureheads-minilm-e2e-").FullName;
        try
        {
            string zip = Path.Combine(work, "minilm.zip"), textsFile = Path.Combine(work, "texts.json"), scoresFile = Path.Combine(work, "scores.bin");
            var rows = ml.Data.LoadFromEnumerable(texts.Select(t => new Mail { Text = t, Label = "ham" }));
            float[] inProcess;
            using (var model = pipeline.Fit(data))
            {
                var network = (BertEncoder)model.LastTransformer.Network;
                Assert.Equal(MixtureHeads.Layers.HeadRouting.ParameterFree, network.Config.Routing);
                inProcess = model.Transform(rows).GetColumn<float[]>("Score").SelectMany(s => s).ToArray();

                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                var ids = TokenBatch.StageIds(texts.Select(BertTokenIds.Encode).ToList(), maxLength: 512);
                var reference = softmax(network.forward(ids).Output, 1);
                ParityAssert.Close("in-process scores vs TorchSharp forward", reference, tensor(inProcess).reshape(texts.Length, 2), new Tolerance("1e-4", 0, 1e-4));
                ml.Model.Save(model, data.Schema, zip);
            }
            File.WriteAllText(textsFile, JsonSerializer.Serialize(texts));

            using var child = ChildProject.DeployedScorer("minilm-scoring", Estimators.TextClassificationEndToEndTests.ScoringProgram, [(MiniLMPackage.PackageId, MiniLMPackage.PackageVersion)]);
            child.Run(zip, textsFile, scoresFile);
            float[] childScores = ReadFloats(scoresFile);

            var fresh = new MLContext();
            using var loaded = (TransformerChain<ITransformer>)fresh.Model.Load(zip, out _);
            Assert.Equal(loaded.Transform(rows).GetColumn<float[]>("Score").SelectMany(s => s).ToArray(), childScores);
            Assert.Equal(inProcess.Length, childScores.Length);
            for (int i = 0; i < inProcess.Length; i++) Assert.Equal(inProcess[i], childScores[i], 1e-5f);
        }
        finally { Directory.Delete(work, recursive: true); }
    }

    private static float[] ReadFloats(string file)
    {
        byte[] bytes = File.ReadAllBytes(file);
        var values = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        return values;
    }
}
