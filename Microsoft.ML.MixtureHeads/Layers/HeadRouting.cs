namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>How an attention layer decides which heads each token uses and with what weight.</summary>
public enum HeadRouting
{
    /// <summary>Plain multi-head attention: every head on with gate 1, no routers, no balance loss.</summary>
    Dense,

    /// <summary>
    /// Learned routers as in the official MoH ViT/DiT code (specs/moh.md section 2): shared heads weighted by
    /// softmax(<c>wg_1</c>) x h_s, routed heads by the renormalised top-k of softmax(<c>wg</c>) x k, the two groups
    /// mixed by softmax(<c>wg_0</c>) x 2.
    /// </summary>
    Learned,

    /// <summary>
    /// The parameter-free router of the MoH-LLaMA3 dense-to-MoH conversion (specs/moh.md sections 3 and 7):
    /// routed heads ranked by the L2 norm of their query, binary gates with a straight-through estimator,
    /// shared heads always on. Made for turning a trained <see cref="Dense"/> layer into MoH.
    /// </summary>
    ParameterFree,
}
