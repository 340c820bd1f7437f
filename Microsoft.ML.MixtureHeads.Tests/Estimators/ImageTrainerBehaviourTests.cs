using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Training;

namespace Microsoft.ML.MixtureHeads.Tests.Estimators;

/// <summary>Training behaviour users rely on: cancellation, continued training from a saved zip, progress reports,
/// validation, and clear errors for bad columns - on real Fashion-MNIST pixels, with a tiny network.</summary>
public sealed class ImageTrainerBehaviourTests
{
    private static readonly FashionMnistData Images = FashionMnistData.Read(FashionMnistSplit.Train).Take(800);

    private static (MLContext Ml, IDataView Data) Pixels(int seed = 3)
    {
        var ml = new MLContext(seed);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(Images.ToDataView(ml)).Transform(Images.ToDataView(ml));
        return (ml, ml.Transforms.DropColumns(nameof(FashionMnistImage.Image)).Fit(data).Transform(data));
    }

    private static MoHImageClassificationTrainer.Options TinyOptions(int epochs = 2) => new()
    {
        ImageColumnName = nameof(FashionMnistImage.Pixels),
        Model = TinyVisionTransformers.MoH,
        Epochs = epochs,
        BatchSize = 50,
        LearningRate = 3e-3,
        WarmupEpochs = 0.2,
        LogEverySteps = 4,
        Seed = 5,
    };

    [Fact]
    public void Cancellation_stops_at_the_next_step_and_returns_a_usable_model()
    {
        var (ml, data) = Pixels();
        using var cancel = new CancellationTokenSource();
        var reports = new List<TrainingMetrics>();
        var options = TinyOptions(epochs: 50);
        options.CancellationToken = cancel.Token;
        options.MetricsCallback = m => { reports.Add(m); if (m.Step >= 8) cancel.Cancel(); };

        using var model = ml.MulticlassClassification.Trainers.MoHImageClassification(options).Fit(data);

        Assert.True(model.TrainingSummary.Cancelled);
        Assert.Equal(8, reports.Max(r => r.Step)); // no report after the step that cancelled
        var scores = model.Transform(data).GetColumn<float[]>("Score").Take(20).ToList();
        Assert.All(scores, s => Assert.Equal(1.0, s.Sum(), 4));
    }

    [Fact]
    public void Training_continues_from_a_saved_zip_where_it_stopped()
    {
        var (ml, data) = Pixels();
        var first = new List<TrainingMetrics>();
        var options = TinyOptions(epochs: 3);
        options.MetricsCallback = first.Add;
        var pipeline = ml.Transforms.CopyColumns("Copy", "Label").Append(ml.MulticlassClassification.Trainers.MoHImageClassification(options));
        string zip = Path.Combine(Path.GetTempPath(), $"continue-{Guid.NewGuid():N}.zip");
        try
        {
            using (var model = pipeline.Fit(data)) ml.Model.Save(model, data.Schema, zip);

            var resumed = new List<TrainingMetrics>();
            var more = TinyOptions(epochs: 1);
            more.InitialModel = MixtureHeadsCheckpoint.FromZip(zip);
            more.LearningRate = 3e-4;   // a fine-tuning rate: the first run's cosine ended near 3e-5, and a fresh AdamW far above that first undoes progress
            more.WarmupEpochs = 0;
            more.MetricsCallback = resumed.Add;
            using var continued = ml.MulticlassClassification.Trainers.MoHImageClassification(more).Fit(data);

            double freshStart = first.First(r => r.Phase == TrainingPhase.Step).Loss;
            double trainedEnd = first.Last(r => r.Phase == TrainingPhase.EpochEnd).Loss;
            double resumedStart = resumed.First(r => r.Phase == TrainingPhase.Step).Loss;
            double resumedEnd = resumed.Last(r => r.Phase == TrainingPhase.EpochEnd).Loss;
            Assert.True(resumedStart < (freshStart + trainedEnd) / 2, $"resumed at loss {resumedStart}, fresh start {freshStart}, trained end {trainedEnd}");
            Assert.True(resumedEnd < trainedEnd, $"continued epoch loss {resumedEnd} did not fall below {trainedEnd}");
        }
        finally { File.Delete(zip); }
    }

    [Fact]
    public void Progress_reaches_the_callback_and_the_MLContext_log_with_validation_metrics()
    {
        var (ml, data) = Pixels();
        var log = new List<string>();
        ml.Log += (_, e) => { lock (log) log.Add(e.Message); };
        var reports = new List<TrainingMetrics>();
        var options = TinyOptions(epochs: 2);
        options.ValidationFraction = 0.25;
        options.MetricsCallback = reports.Add;

        using var model = ml.MulticlassClassification.Trainers.MoHImageClassification(options).Fit(data);

        var epochs = reports.Where(r => r.Phase == TrainingPhase.EpochEnd).ToList();
        Assert.Equal([1, 2], epochs.Select(e => e.Epoch));
        Assert.All(epochs, e => Assert.InRange(e.ValidationAccuracy!.Value, 0.15, 1.0));
        Assert.All(reports, r => Assert.True(double.IsFinite(r.Loss) && r.LearningRate > 0 && r.SamplesPerSecond > 0));
        Assert.All(reports, r => Assert.Equal(TinyVisionTransformers.MoH.Depth, r.HeadUsage.Count));
        // routed heads are used by a share of the tokens; the shared head by all of them
        Assert.All(epochs[^1].HeadUsage, layer => Assert.Equal(1.0, layer[0], 6));
        Assert.All(epochs[^1].HeadUsage, layer => Assert.Equal(2.0, layer.Skip(1).Sum(), 4));
        lock (log) Assert.Contains(log, m => m.Contains("epoch 2/2") && m.Contains("val"));
        Assert.Equal(epochs, model.TrainingSummary.Epochs);
    }

    [Fact]
    public void A_validation_set_may_keep_its_raw_labels_and_other_classes_or_key_orders_fail_naming_the_column()
    {
        var (ml, data) = Pixels();
        var rawTest = FashionMnistData.Read(FashionMnistSplit.Test).Take(300).ToDataView(ml);
        double ValidationAccuracy(IDataView validation)
        {
            var reports = new List<TrainingMetrics>();
            var options = TinyOptions(epochs: 1);
            options.ValidationSet = validation;
            options.MetricsCallback = reports.Add;
            using var model = ml.MulticlassClassification.Trainers.MoHImageClassification(options).Fit(data);
            return reports.Single(r => r.Phase == TrainingPhase.EpochEnd).ValidationAccuracy!.Value;
        }

        // Class names as text are matched to the training classes: the same accuracy as the training data's own keys.
        var trainingKeys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(Images.ToDataView(ml));
        double keyed = ValidationAccuracy(trainingKeys.Transform(rawTest));
        Assert.InRange(keyed, 0.15, 1.0);
        Assert.Equal(keyed, ValidationAccuracy(rawTest));

        var sortedKeys = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue);
        var reordered = Assert.Throws<ArgumentOutOfRangeException>(() => ValidationAccuracy(sortedKeys.Fit(rawTest).Transform(rawTest)));
        Assert.Contains("'Label'", reordered.Message);
        Assert.Contains("classes", reordered.Message);

        var renamed = ml.Data.LoadFromEnumerable(FashionMnistData.Read(FashionMnistSplit.Test).Take(5).Rows().Select((r, i) => { if (i == 3) r.Label = "Boot"; return r; }));
        var unknown = Assert.Throws<ArgumentOutOfRangeException>(() => ValidationAccuracy(renamed));
        Assert.Contains("'Boot' at row 3", unknown.Message);
    }

    [Fact]
    public void Bad_columns_and_data_fail_up_front_naming_the_column()
    {
        var (ml, data) = Pixels();
        var trainers = ml.MulticlassClassification.Trainers;
        MoHImageClassificationTrainer With(Action<MoHImageClassificationTrainer.Options> change)
        {
            var options = TinyOptions(1);
            change(options);
            return trainers.MoHImageClassification(options);
        }

        Assert.Contains("'Nope'", Assert.Throws<ArgumentOutOfRangeException>(() => With(o => o.LabelColumnName = "Nope").Fit(data)).Message);
        Assert.Contains("'ClassIndex'", Assert.Throws<ArgumentOutOfRangeException>(() => With(o => o.LabelColumnName = "ClassIndex").Fit(data)).Message);
        Assert.Contains("'Missing'", Assert.Throws<ArgumentOutOfRangeException>(() => With(o => o.ImageColumnName = "Missing").Fit(data)).Message);
        var wrongType = Assert.Throws<ArgumentOutOfRangeException>(() => With(o => o.ImageColumnName = "Label").Fit(data));
        Assert.Contains("Image column 'Label'", wrongType.Message);

        Assert.Contains("no rows", Assert.Throws<ArgumentException>(() => With(_ => { }).Fit(ml.Data.SkipRows(data, 100_000))).Message);

        var trousers = ml.Data.LoadFromEnumerable(Images.Rows().Where(r => r.Label == "Trouser"));
        var oneClass = ml.Transforms.Conversion.MapValueToKey("Single", "Label").Fit(trousers).Transform(trousers);
        var single = Assert.Throws<ArgumentOutOfRangeException>(() => With(o => o.LabelColumnName = "Single").Fit(oneClass));
        Assert.Contains("'Single'", single.Message);

        Assert.Throws<ArgumentOutOfRangeException>(() => With(o => { o.Model = null; o.Architecture = "no_such_model"; }));
        Assert.Throws<ArgumentOutOfRangeException>(() => With(o => o.BatchSize = 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => With(o => o.EarlyStoppingPatience = 2));
    }

    [Fact]
    public void Output_schema_is_known_before_fitting_and_checks_columns()
    {
        var (ml, data) = Pixels();
        var trainer = ml.MulticlassClassification.Trainers.MoHImageClassification(TinyOptions(1));
        var shape = trainer.GetOutputSchema(ShapeOf(data.Schema));
        var predicted = shape.Single(c => c.Name == "PredictedLabel");
        Assert.True(predicted.IsKey);
        var score = shape.Single(c => c.Name == "Score");
        Assert.True(score.Kind == SchemaShape.Column.VectorKind.Vector && score.ItemType == NumberDataViewType.Single);
        var noImage = ml.Transforms.DropColumns("Pixels").Fit(data).Transform(data);
        Assert.Throws<ArgumentOutOfRangeException>(() => trainer.GetOutputSchema(ShapeOf(noImage.Schema)));
    }

    /// <summary>ML.NET keeps SchemaShape.Create internal; its estimators get a shape the same way.</summary>
    private static SchemaShape ShapeOf(DataViewSchema schema) =>
        (SchemaShape)typeof(SchemaShape).GetMethod("Create", System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Public,
            [typeof(DataViewSchema)])!.Invoke(null, [schema])!;
}
