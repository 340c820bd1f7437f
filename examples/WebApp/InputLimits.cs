namespace Microsoft.ML.MixtureHeads.Samples.WebApp;

/// <summary>What the service accepts; larger requests get 413, malformed ones 400.</summary>
public static class InputLimits
{
    /// <summary>The largest image upload.</summary>
    public const int MaxImageBytes = 2 * 1024 * 1024;

    /// <summary>The longest mail text, in characters.</summary>
    public const int MaxTextCharacters = 100_000;

    /// <summary>The largest request body of any kind (an image plus its multipart framing).</summary>
    public const long MaxRequestBytes = MaxImageBytes + 64 * 1024;
}
