using System.Buffers.Binary;
using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Qemu.Hosting;
using Portal.Qemu.Image;

namespace Portal.Qemu.Tests;

/// <summary>How the image builder picks the agent channel's kernel modules (no guest; a fake module tree).</summary>
[TestClass]
public sealed class AgentModuleTests
{
    private string _root = null!;

    [TestInitialize]
    public void CreateTree() => _root = Directory.CreateTempSubdirectory("portal-modules-").FullName;

    [TestCleanup]
    public void RemoveTree() => Directory.Delete(_root, recursive: true);

    private void Tree(string dep, string builtin = "")
    {
        var tree = Path.Combine(_root, "1.0-test");
        Directory.CreateDirectory(tree);
        File.WriteAllText(Path.Combine(tree, "modules.dep"), dep);
        File.WriteAllText(Path.Combine(tree, "modules.builtin"), builtin);
        foreach (var line in dep.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var file = Path.Combine(tree, line[..line.IndexOf(':', StringComparison.Ordinal)]);
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllText(file, "elf");
        }
    }

    [TestMethod]
    public void Dependencies_come_first_each_once_in_modprobe_order()
    {
        Tree("""
            kernel/drivers/virtio/virtio_ring.ko:
            kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
            kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
            kernel/drivers/virtio/virtio_pci_modern_dev.ko:
            kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
            kernel/drivers/char/virtio_console.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
            kernel/drivers/net/virtio_net.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko

            """);
        var modules = GuestImageBuilder.AgentModules("1.0-test", _root).Select(Path.GetFileName).ToArray();
        CollectionAssert.AreEqual(
            new[] { "virtio_pci_legacy_dev.ko", "virtio_pci_modern_dev.ko", "virtio_ring.ko", "virtio.ko", "virtio_pci.ko", "virtio_console.ko" }, modules);
    }

    [TestMethod]
    public void A_built_in_driver_needs_no_module_and_a_missing_one_is_a_clear_prerequisite_error()
    {
        // arm64's Debian kernel: CONFIG_VIRTIO=y, the rest modules.
        Tree("""
            kernel/drivers/virtio/virtio_pci.ko:
            kernel/drivers/char/virtio_console.ko:

            """, "kernel/drivers/virtio/virtio.ko\n");
        Assert.HasCount(2, GuestImageBuilder.AgentModules("1.0-test", _root));

        Tree("kernel/drivers/virtio/virtio_pci.ko:\n");
        var error = Assert.ThrowsExactly<GuestPrerequisiteException>(() => GuestImageBuilder.AgentModules("1.0-test", _root));
        StringAssert.Contains(error.Message, "virtio_console");
    }

    [TestMethod]
    public void An_appended_module_signature_is_dropped_and_anything_else_kept_as_is()
    {
        var body = Encoding.ASCII.GetBytes("\x7f" + "ELF module body");
        var signature = new byte[681];
        var info = new byte[12];
        BinaryPrimitives.WriteUInt32BigEndian(info.AsSpan(8), (uint)signature.Length);
        byte[] signed = [.. body, .. signature, .. info, .. "~Module signature appended~\n"u8];
        CollectionAssert.AreEqual(body, GuestImageBuilder.WithoutSignature(signed));
        CollectionAssert.AreEqual(body, GuestImageBuilder.WithoutSignature(body));

        BinaryPrimitives.WriteUInt32BigEndian(info.AsSpan(8), uint.MaxValue);     // a lying length
        byte[] bogus = [.. body, .. info, .. "~Module signature appended~\n"u8];
        CollectionAssert.AreEqual(bogus, GuestImageBuilder.WithoutSignature(bogus));
    }
}
