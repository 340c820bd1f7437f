namespace Microsoft.ML.MixtureHeads.Samples.WebApp;

/// <summary>The image classifier in Model Builder's shape: an input row and a static <see cref="Predict"/>.</summary>
public static class ImageModel
{
    /// <summary>One image, as the model was trained on it: encoded bytes in an <c>Image</c> column.</summary>
    public sealed class ModelInput
    {
        /// <summary>Encoded image bytes (PNG, JPEG, BMP, ...).</summary>
        public byte[] Image { get; set; } = [];

        /// <summary>The label column the pipeline starts from; empty when predicting.</summary>
        public string Label { get; set; } = "";
    }

    /// <summary>The saved model, named at start-up with <c>Instance.UseModel(path)</c>.</summary>
    public static LazyModel<ModelInput> Instance { get; } = new("image");

    /// <summary>The class probabilities of one image, with the most probable classes first.</summary>
    public static ClassPrediction Predict(ModelInput input, int top = 5) => Instance.Predict(input, top);
}
