using Microsoft.ML.MixtureHeads.Build;

namespace Microsoft.ML.MixtureHeads.Tests.Platform;

/// <summary>The two-byte ELF patch that lets TorchSharp load where libstdc++ lacks GLIBCXX_3.4.32 (docs/platforms.md).</summary>
public sealed class ElfVersionNeedPatcherTests : IDisposable
{
    private const string Version = "GLIBCXX_3.4.32";
    private readonly string _folder = Directory.CreateTempSubdirectory("elf-patch-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>TorchSharp's library exactly as NuGet ships it (the package cache is never modified).</summary>
    internal static string ShippedLibrary()
    {
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string path = Path.Combine(packages, "torchsharp", Infrastructure.PackageVersions.Of("TorchSharp"), "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(path), $"TorchSharp's shipped library not found at {path}");
        return path;
    }

    private string CopyOfShipped()
    {
        string copy = Path.Combine(_folder, "libLibTorchSharp.so");
        File.Copy(ShippedLibrary(), copy, overwrite: true);
        return copy;
    }

    [Fact]
    public void Sets_the_weak_flag_changing_one_byte_and_is_idempotent()
    {
        string library = CopyOfShipped();
        byte[] before = File.ReadAllBytes(library);
        Assert.False(ElfVersionNeedPatcher.IsVersionWeak(library, Version));

        Assert.Equal(ElfPatchOutcome.Patched, ElfVersionNeedPatcher.MarkVersionWeak(library, Version, ElfVersionNeedPatcher.CurrentMachine));
        byte[] after = File.ReadAllBytes(library);
        Assert.True(ElfVersionNeedPatcher.IsVersionWeak(library, Version));
        Assert.Equal(before.Length, after.Length);
        var changed = Enumerable.Range(0, before.Length).Where(i => before[i] != after[i]).ToList();
        Assert.Single(changed);
        Assert.Equal(before[changed[0]] | 0x2, after[changed[0]]);

        Assert.Equal(ElfPatchOutcome.AlreadyWeak, ElfVersionNeedPatcher.MarkVersionWeak(library, Version, ElfVersionNeedPatcher.CurrentMachine));
        Assert.Equal(after, File.ReadAllBytes(library));
    }

    [Fact]
    public void A_version_the_file_does_not_need_is_left_alone()
    {
        string library = CopyOfShipped();
        byte[] before = File.ReadAllBytes(library);
        Assert.Equal(ElfPatchOutcome.NotReferenced, ElfVersionNeedPatcher.MarkVersionWeak(library, "GLIBCXX_9.9.99", ElfVersionNeedPatcher.CurrentMachine));
        Assert.Equal(before, File.ReadAllBytes(library));
    }

    [Fact]
    public void Patching_through_a_hard_link_leaves_the_other_name_untouched()
    {
        string original = CopyOfShipped();
        string link = Path.Combine(_folder, "linked.so");
        Assert.Equal(0, LinkNative(original, link));
        byte[] before = File.ReadAllBytes(original);

        ElfVersionNeedPatcher.MarkVersionWeak(link, Version, ElfVersionNeedPatcher.CurrentMachine);

        Assert.Equal(before, File.ReadAllBytes(original));
        Assert.True(ElfVersionNeedPatcher.IsVersionWeak(link, Version));
    }

    [Fact]
    public void A_non_elf_file_gives_a_clear_error_naming_it()
    {
        string text = Path.Combine(_folder, "notes.so");
        File.WriteAllText(text, "this is not a shared library, but it is long enough to hold an ELF header of 64 bytes...");
        var error = Assert.Throws<ElfPatchException>(() => ElfVersionNeedPatcher.MarkVersionWeak(text, Version, 0));
        Assert.Equal(text, error.FilePath);
        Assert.Contains("not an ELF file", error.Message);
    }

    [Fact]
    public void A_foreign_architecture_gives_a_clear_error()
    {
        string library = CopyOfShipped();
        byte[] bytes = File.ReadAllBytes(library);
        bytes[0x12] = 183; // e_machine = EM_AARCH64
        bytes[0x13] = 0;
        File.WriteAllBytes(library, bytes);
        var error = Assert.Throws<ElfPatchException>(() => ElfVersionNeedPatcher.MarkVersionWeak(library, Version, expectedMachine: 62));
        Assert.Contains("machine 183", error.Message);
        Assert.Equal(bytes, File.ReadAllBytes(library));
    }

    [Fact]
    public void A_truncated_file_gives_a_clear_error()
    {
        string library = CopyOfShipped();
        byte[] bytes = File.ReadAllBytes(library);
        File.WriteAllBytes(library, bytes[..4096]);
        var error = Assert.Throws<ElfPatchException>(() => ElfVersionNeedPatcher.MarkVersionWeak(library, Version, 0));
        Assert.Contains("outside the file", error.Message);
    }

    [Fact]
    public void The_build_output_loads_on_this_system()
    {
        // Our own test output went through the build step: either libstdc++ has the version or the copy is patched.
        string? system = ElfVersionNeedPatcher.FindSystemLibStdCxx();
        Assert.NotNull(system);
        var copies = Directory.GetFiles(AppContext.BaseDirectory, "libLibTorchSharp.so", SearchOption.AllDirectories);
        Assert.NotEmpty(copies);
        bool systemHasIt = ElfVersionNeedPatcher.LibraryMentionsVersion(system!, Version);
        Assert.All(copies, c => Assert.True(systemHasIt || ElfVersionNeedPatcher.IsVersionWeak(c, Version), c));
        using var sum = TorchSharp.torch.ones(3).sum();
        Assert.Equal(3f, sum.item<float>());
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "link", SetLastError = true)]
    private static extern int LinkNative(string existing, string created);
}
