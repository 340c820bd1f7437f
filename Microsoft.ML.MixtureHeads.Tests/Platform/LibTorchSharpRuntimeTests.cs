using Microsoft.ML.MixtureHeads.Build;
using Microsoft.ML.MixtureHeads.Platform;

namespace Microsoft.ML.MixtureHeads.Tests.Platform;

/// <summary>The start-up patch for app folders no build step reached, and the error that replaces TorchSharp's.</summary>
public sealed class LibTorchSharpRuntimeTests : IDisposable
{
    private readonly string _app = Directory.CreateTempSubdirectory("libtorchsharp-app-").FullName;

    public void Dispose() => Directory.Delete(_app, recursive: true);

    /// <summary>An app folder laid out as a framework-dependent build leaves it: the library under runtimes/linux-x64/native.</summary>
    private string AppWithShippedLibrary()
    {
        string native = Directory.CreateDirectory(Path.Combine(_app, "runtimes", "linux-x64", "native")).FullName;
        string copy = Path.Combine(native, "libLibTorchSharp.so");
        File.Copy(ElfVersionNeedPatcherTests.ShippedLibrary(), copy);
        return copy;
    }

    /// <summary>A stand-in for the system's libstdc++ that does or does not carry the version string.</summary>
    private string LibStdCxx(bool hasVersion)
    {
        string path = Path.Combine(_app, hasVersion ? "new-libstdc++.so.6" : "old-libstdc++.so.6");
        File.WriteAllText(path, hasVersion ? $"GLIBCXX_3.4.31\0{LibTorchSharpRuntime.MissingVersion}\0" : "GLIBCXX_3.4.30\0GLIBCXX_3.4.31\0");
        return path;
    }

    [Fact]
    public void An_old_libstdcxx_gets_the_app_folder_copy_patched()
    {
        string copy = AppWithShippedLibrary();
        string old = LibStdCxx(hasVersion: false);

        string? note = LibTorchSharpRuntime.PatchIfNeeded(_app, () => old);

        Assert.True(ElfVersionNeedPatcher.IsVersionWeak(copy, LibTorchSharpRuntime.MissingVersion));
        Assert.Contains(copy, note);
        Assert.Contains(old, note);
        Assert.Null(LibTorchSharpRuntime.PatchIfNeeded(_app, () => old)); // already weak: nothing more to do
    }

    [Fact]
    public void A_libstdcxx_with_the_version_leaves_the_library_as_shipped()
    {
        string copy = AppWithShippedLibrary();
        byte[] before = File.ReadAllBytes(copy);

        Assert.Null(LibTorchSharpRuntime.PatchIfNeeded(_app, () => LibStdCxx(hasVersion: true)));

        Assert.Equal(before, File.ReadAllBytes(copy));
    }

    [Fact]
    public void A_folder_without_the_library_is_left_alone()
    {
        Assert.Null(LibTorchSharpRuntime.PatchIfNeeded(_app, () => throw new InvalidOperationException("must not look for libstdc++")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_app));
    }

    [Fact]
    public void A_missing_backend_package_is_named_as_the_cause()
    {
        string message = LibTorchSharpRuntime.Diagnose(_app, LibStdCxx(hasVersion: false), startUpNote: null);
        Assert.Contains("TorchSharp-cpu", message);
        Assert.Contains(_app, message);
        Assert.DoesNotContain("libtorch-cpu-linux-x64", message);
    }

    [Fact]
    public void An_unpatched_library_on_an_old_libstdcxx_is_named_as_the_cause()
    {
        string copy = AppWithShippedLibrary();
        string old = LibStdCxx(hasVersion: false);
        string message = LibTorchSharpRuntime.Diagnose(_app, old, "start-up could not mark GLIBCXX_3.4.32 weak: access denied");
        Assert.Contains(copy, message);
        Assert.Contains(old, message);
        Assert.Contains(LibTorchSharpRuntime.MissingVersion, message);
        Assert.Contains("access denied", message);
        Assert.Contains("docs/platforms.md", message);
    }
}
