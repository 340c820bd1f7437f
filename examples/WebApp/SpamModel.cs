namespace Microsoft.ML.MixtureHeads.Samples.WebApp;

/// <summary>The spam filter in Model Builder's shape: an input row and a static <see cref="Predict"/>.</summary>
public static class SpamModel
{
    /// <summary>One mail, as the model was trained on it: its text in a <c>Text</c> column.</summary>
    public sealed class ModelInput
    {
        /// <summary>The mail (subject and body).</summary>
        public string Text { get; set; } = "";

        /// <summary>The label column the pipeline starts from; empty when predicting.</summary>
        public string Label { get; set; } = "";
    }

    /// <summary>The saved model, named at start-up with <c>Instance.UseModel(path)</c>.</summary>
    public static LazyModel<ModelInput> Instance { get; } = new("spam");

    /// <summary>The class probabilities of one mail, most probable first.</summary>
    public static ClassPrediction Predict(ModelInput input) => Instance.Predict(input, top: 2);
}
