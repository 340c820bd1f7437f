using Microsoft.ML.MixtureHeads.Data;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Text;

namespace Microsoft.ML.MixtureHeads.Benchmarks.LMClaims;

/// <summary>
/// The Brown corpus as byte tokens for the language-model claims: the genre-stratified split of
/// <see cref="BrownCorpus.Split"/> (10 % of each genre's files held out), each document followed by the end-of-text id.
/// </summary>
internal sealed class BrownBytes
{
    /// <summary>Training stream, held-out files in corpus order.</summary>
    public long[] Train { get; }

    /// <summary>Validation stream: the first <c>validationBytes</c> tokens of the held-out files.</summary>
    public long[] Validation { get; }

    public int TrainFiles { get; }
    public int ValidationFiles { get; }

    public BrownBytes(int validationBytes)
    {
        var (train, validation) = BrownCorpus.Split(BrownCorpus.Read(), validationFraction: 0.1);
        var codec = new ByteTokenizer();
        Train = PackedSequences.Encode(train.Select(d => d.Text), codec, ByteTokenizer.EndOfText);
        Validation = PackedSequences.Encode(validation.Select(d => d.Text), codec, ByteTokenizer.EndOfText).Take(validationBytes).ToArray();
        (TrainFiles, ValidationFiles) = (train.Count, validation.Count);
    }

    /// <summary>The training tokens that <paramref name="steps"/> optimizer steps read in one epoch of windows
    /// (<paramref name="batch"/> windows of <paramref name="window"/> + 1 tokens), starting at a seed-dependent offset.</summary>
    public long[] TrainSlice(int steps, int batch, int window, int offsetSeed = 0)
    {
        long length = (long)steps * batch * window + 1;
        if (length > Train.Length) throw new ArgumentOutOfRangeException(nameof(steps), steps, $"{steps} steps need {length:N0} tokens; Brown's training files hold {Train.Length:N0}.");
        long offset = offsetSeed == 0 ? 0 : new Random(offsetSeed).NextInt64(Train.Length - length);
        return Train.AsSpan((int)offset, (int)length).ToArray();
    }
}
