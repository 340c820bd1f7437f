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
    /// routed heads scored by softmax(L2 norm of their pre-rotary query / unbiased std of those norms), the top k
    /// selected, shared heads always on. Gates are binary (1 selected, 0 not; no ×k scaling) with a straight-through
    /// estimator: the gradient of a selected head's gate goes to its softmax score, and so into the query projection.
    /// Made for turning a trained <see cref="Dense"/> layer into MoH (<see cref="MoHConversion.FromDense"/>).
    /// </summary>
    /// <remarks>
    /// Settled here where the spec leaves it open: the balance loss is the same E^2 * mean(P * f) as for
    /// <see cref="Learned"/>, with P the mean softmax score, so it too trains the query projection; a std of 0
    /// (all routed norms equal) is clamped to float32 eps, giving uniform scores instead of the official code's NaN.
    /// </remarks>
    ParameterFree,
}
