using Microsoft.ML.Data;

namespace Microsoft.ML.MixtureHeads.Scoring;

/// <summary>Output row of the tokenization stages: a variable-length vector of token ids (see <see cref="TextTokenIds"/>).</summary>
public sealed class TokenIdsRow
{
    /// <summary>The token ids, <see cref="TextTokenIds.Start"/> first.</summary>
    [ColumnName(TextTokenization.TokenIdsColumn)]
    public long[] Ids { get; set; } = [];
}
