namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>The <see cref="LMTextClassifier"/> family: built from a language-model checkpoint, so it registers no names.</summary>
internal sealed class LMTextClassifierFamily : ModelFamily<LMTextClassifierConfig>
{
    public override string Kind => LMTextClassifier.KindName;

    protected override IMixtureHeadsNetwork Create(LMTextClassifierConfig config) => new LMTextClassifier(config);
}
