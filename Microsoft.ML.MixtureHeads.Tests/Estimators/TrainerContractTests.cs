using System.Reflection;
using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Tests.Text;
using Microsoft.ML.MixtureHeads.Training;

namespace Microsoft.ML.MixtureHeads.Tests.Estimators;

/// <summary>What a trainer promises besides accuracy: one source of defaults, no state kept from a fit, the thread
/// count put back, initial models that refuse options they would override, the user's MLContext, and a clear error
/// for a transformer a prediction engine disposed.</summary>
public sealed class TrainerContractTests
{
    private static readonly FashionMnistData Images = FashionMnistData.Read(FashionMnistSplit.Train).Take(200);

    private static (MLContext Ml, IDataView Data) Pixels()
    {
        var ml = new MLContext(seed: 3);
        var raw = Images.ToDataView(ml);
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw).Transform(raw);
        return (ml, ml.Transforms.DropColumns(nameof(FashionMnistImage.Image)).Fit(keyed).Transform(keyed));
    }

    private static MoHImageClassificationTrainer.Options Tiny() => new()
    {
        ImageColumnName = nameof(FashionMnistImage.Pixels), Model = TinyVisionTransformers.MoH, Epochs = 1, BatchSize = 50, Seed = 5, LogEverySteps = 1000,
    };

    public static TheoryData<string> FlatOverloads() => new(typeof(MixtureHeadsCatalog).GetMethods(BindingFlags.Public | BindingFlags.Static)
        .Where(m => m.GetParameters().Any(p => p.Name == "epochs")).Select(m => $"{m.Name}({m.GetParameters()[0].ParameterType.Name})"));

    [Theory]
    [MemberData(nameof(FlatOverloads))]
    public void Every_flat_overload_default_is_the_options_default(string overload)
    {
        var method = typeof(MixtureHeadsCatalog).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Single(m => m.GetParameters().Any(p => p.Name == "epochs") && $"{m.Name}({m.GetParameters()[0].ParameterType.Name})" == overload);
        var options = Activator.CreateInstance(method.ReturnType.GetNestedType("Options")!)!;
        foreach (var parameter in method.GetParameters().Skip(1))
        {
            var field = options.GetType().GetField(char.ToUpperInvariant(parameter.Name![0]) + parameter.Name[1..], BindingFlags.Public | BindingFlags.Instance)
                ?? throw new InvalidOperationException($"{overload}: parameter '{parameter.Name}' has no Options field of that name.");
            Assert.True(parameter.HasDefaultValue, $"{overload}: '{parameter.Name}' has no default");
            Assert.Equal(field.GetValue(options), parameter.DefaultValue);
        }
    }

    [Theory]
    [InlineData(typeof(MoHImageClassificationTrainer))]
    [InlineData(typeof(MoHTextClassificationTrainer))]
    public void A_trainer_keeps_no_state_that_a_fit_could_change(Type trainer)
    {
        for (var type = trainer; type is not null && type != typeof(object); type = type.BaseType)
        {
            foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                Assert.True(field.IsInitOnly, $"{type.Name}.{field.Name} is mutable");
        }
    }

    [Fact]
    public void Fit_puts_libtorch_thread_count_back()
    {
        var (ml, data) = Pixels();
        int before = TorchSharp.torch.get_num_threads();
        var options = Tiny();
        options.Threads = before == 1 ? 2 : 1;
        int during = 0;
        options.MetricsCallback = _ => during = TorchSharp.torch.get_num_threads();
        using var model = ml.MoHImageClassifier(options).Fit(data);
        Assert.Equal(options.Threads, during);
        Assert.Equal(before, TorchSharp.torch.get_num_threads());
    }

    [Fact]
    public void An_initial_model_refuses_options_it_would_silently_override()
    {
        var (ml, data) = Pixels();
        string zip = Path.Combine(Path.GetTempPath(), $"initial-{Guid.NewGuid():N}.zip");
        try
        {
            using (var model = ml.MoHImageClassifier(Tiny()).Fit(data)) ml.Model.Save(model, data.Schema, zip);
            var options = Tiny();
            options.InitialModel = MixtureHeadsCheckpoint.FromZip(zip);
            options.ImageSize = 32;
            var error = Assert.Throws<ArgumentException>(() => ml.MoHImageClassifier(options).Fit(data));
            Assert.Contains("ImageSize = 32 (the model takes 28)", error.Message);

            options.ImageSize = 28;            // what the model takes anyway: allowed
            options.Model = TinyVisionTransformers.MoH with { Depth = 3 };
            Assert.Contains("Model (an architecture other than the initial model's)", Assert.Throws<ArgumentException>(() => ml.MoHImageClassifier(options).Fit(data)).Message);

            options.Model = TinyVisionTransformers.MoH;
            using var continued = ml.MoHImageClassifier(options).Fit(data);
            Assert.Single(continued.TrainingSummary.Epochs);
        }
        finally { File.Delete(zip); }
    }

    [Fact]
    public void A_text_initial_model_refuses_another_maximum_length()
    {
        var ml = new MLContext(seed: 4);
        var mails = SpamMails.Messages.Where((_, i) => i % 40 == 0).Select(m => new Mail { Text = m.Text, Label = m.Label }).ToList();
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(mails)).Transform(ml.Data.LoadFromEnumerable(mails));
        var options = new MoHTextClassificationTrainer.Options { Model = TinyTextEncoders.MoH, Epochs = 1, Seed = 4 };
        using var model = ml.MoHTextClassifier(options).Fit(data);
        var more = new MoHTextClassificationTrainer.Options { InitialModel = model.ToCheckpoint(), MaxLength = 32, Epochs = 1 };
        Assert.Contains("MaxLength = 32 (the model reads 64)", Assert.Throws<ArgumentException>(() => ml.MoHTextClassifier(more).Fit(data)).Message);
    }

    [Fact]
    public void The_catalog_route_trains_with_the_users_MLContext_or_fails_loudly()
    {
        var ml = new MLContext(seed: 1);
        Assert.NotNull(MixtureHeadsCatalog.EnvironmentOf(ml.MulticlassClassification.Trainers));
        var error = Assert.Throws<InvalidOperationException>(() => MixtureHeadsCatalog.EnvironmentOf(new object()));
        Assert.Contains("MLContext", error.Message);
    }

    [Fact]
    public void A_transformer_disposed_by_its_prediction_engine_says_so()
    {
        var (ml, data) = Pixels();
        var model = ml.MoHImageClassifier(Tiny()).Fit(data);
        using (var engine = ml.Model.CreatePredictionEngine<PixelRow, ScoreRow>(model))
            Assert.Equal(10, engine.Predict(new PixelRow { Pixels = Images.Rows().First().Pixels }).Score.Length);
        // ML.NET's prediction engine owns its transformer by default and disposed it with itself.
        Assert.Throws<ObjectDisposedException>(() => ml.Model.CreatePredictionEngine<PixelRow, ScoreRow>(model));
        Assert.Throws<ObjectDisposedException>(() => model.Transform(data));
    }

    private sealed class Mail
    {
        public string Text { get; set; } = "";
        public string Label { get; set; } = "";
    }

    private sealed class PixelRow
    {
        [VectorType(28, 28)]
        public float[] Pixels { get; set; } = [];
    }

    private sealed class ScoreRow
    {
        public float[] Score { get; set; } = [];
    }
}
