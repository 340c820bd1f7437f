namespace Microsoft.ML.MixtureHeads;

/// <summary>
/// <c>mlContext.Model.SaveAtomically(...)</c>: <c>mlContext.Model.Save</c> writes the .zip in place, so a process killed
/// while saving over an existing model leaves a truncated zip and the old model is lost. This writes a temporary file
/// next to the target, flushes it to disk and renames it over the target, so the file at the path is always a whole model.
/// </summary>
public static class AtomicModelSaving
{
    /// <summary>Saves <paramref name="model"/> as <c>mlContext.Model.Save</c> does, replacing <paramref name="filePath"/> only once the new model is wholly on disk.</summary>
    /// <param name="catalog"><c>mlContext.Model</c>.</param>
    /// <param name="model">The fitted model (a transformer chain).</param>
    /// <param name="inputSchema">The schema of the data the model takes, or null.</param>
    /// <param name="filePath">The .zip to write; its folder must exist.</param>
    /// <exception cref="DirectoryNotFoundException">The folder of <paramref name="filePath"/> does not exist.</exception>
    public static void SaveAtomically(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema? inputSchema, string filePath)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        AtomicFile.Write(filePath, stream => catalog.Save(model, inputSchema, stream));
    }
}
