using Microsoft.ML.MixtureHeads.Datasets;

namespace Microsoft.ML.MixtureHeads.Tests.WebApp;

/// <summary>Inputs the web app tests send: Fashion-MNIST test images (PNG) and SpamAssassin mails, none of them trained on.</summary>
internal static class Samples
{
    public static IReadOnlyList<byte[]> Images { get; } = FashionMnistData.Read(FashionMnistSplit.Test).Take(40).Rows().Select(r => r.Image).ToList();

    public static IReadOnlyList<string> Mails { get; } = SpamAssassin.Read().Where((_, i) => i % 8 == 3).Take(40).Select(m => m.Text).ToList();
}
