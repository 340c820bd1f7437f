using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Microsoft.ML.MixtureHeads.Scoring;

/// <summary>Input row of <see cref="ClassProbability"/>: one class's probability as ONNX gives it, a one-value vector.</summary>
public sealed class ClassProbabilityVectorRow
{
    /// <summary>The probability, copied here from the network's output for one class.</summary>
    [ColumnName(ClassProbability.VectorColumn), VectorType(1)]
    public float[] Probability { get; set; } = [];
}

/// <summary>Output row of <see cref="ClassProbability"/>.</summary>
public sealed class ClassProbabilityRow
{
    /// <summary>The probability as a scalar.</summary>
    [ColumnName(ClassProbability.ScalarColumn)]
    public float Probability { get; set; }
}

/// <summary>
/// Turns one class's probability from the one-value vector ML.NET's ONNX stage always gives into a scalar column. A saved
/// classifier copies each class's output in, through this stage, and out again under the class's name: <c>Concatenate</c>
/// over those scalar columns gives <c>Score</c> slot names that are the class names, as ML.NET's multiclass trainers do,
/// and ML.NET has no standard stage that makes a scalar of a vector (its ONNX stage cannot give scalar outputs). Stateless,
/// so a saved model records only the contract name and this assembly.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class ClassProbability : CustomMappingFactory<ClassProbabilityVectorRow, ClassProbabilityRow>
{
    /// <summary>The contract name recorded in saved models.</summary>
    public const string ContractName = "Microsoft.ML.MixtureHeads.ClassProbability";

    /// <summary>The column the stage reads.</summary>
    public const string VectorColumn = "__MoH_ClassProbabilityVector";

    /// <summary>The column the stage writes.</summary>
    public const string ScalarColumn = "__MoH_ClassProbability";

    /// <inheritdoc />
    public override Action<ClassProbabilityVectorRow, ClassProbabilityRow> GetMapping() => Extract;

    private static void Extract(ClassProbabilityVectorRow input, ClassProbabilityRow output) =>
        output.Probability = input.Probability is [var value] ? value : throw new InvalidDataException(
            $"Column '{VectorColumn}' holds {input.Probability.Length} values; a class probability is one.");
}
