using System.Globalization;
using Portal.Abi;
using Portal.Qemu.Agent;
using Portal.Qemu.Image;
using Portal.Qemu.Machines;

namespace Portal.Qemu.Hosting;

/// <summary>
/// QEMU's command line for a guest: the machine, its RAM as a shared file, the kernel with its command
/// line (the window's reservation and portal.ko's parameters among them), the console in a file and the
/// agent's virtio-serial port. Everything architecture-specific comes from <see cref="GuestMachine"/>.
/// </summary>
internal static class QemuCommandLine
{
    /// <summary>The name of the agent's virtio-serial port (guest/init passes it to portal-agent).</summary>
    private const string AgentPortName = "org.portal.agent";

    /// <summary>The arguments of <see cref="GuestMachine.QemuBinary"/> (no shell is involved: the kernel command line's <c>$</c> stays literal).</summary>
    public static List<string> Arguments(GuestMachine machine, QemuGuestOptions options, GuestImage image, GuestRamFile ram, GuestWorkDirectory workDirectory)
    {
        var memory = string.Create(CultureInfo.InvariantCulture, $"{options.MemoryMiB}M");
        List<string> machineArguments = ["-machine", $"{machine.Machine},accel={(options.UseKvm ? "kvm" : "tcg")},memory-backend=ram"];
        if (machine.Cpu is { } cpu)
            machineArguments.AddRange(["-cpu", cpu]);
        return
        [
            .. machineArguments,
            "-m", memory,
            "-smp", options.Cpus.ToString(CultureInfo.InvariantCulture),
            "-object", $"memory-backend-file,id=ram,size={memory},mem-path={ram.Path},share=on",
            "-kernel", image.Kernel,
            "-initrd", image.Initramfs,
            "-append", string.Join(' ', KernelArguments(machine, options)),
            "-display", "none", "-monitor", "none", "-no-reboot", "-net", "none",
            "-serial", $"file:{workDirectory.ConsoleLog}",
            // The agent's channel: a virtio-serial port, not a UART (QEMU moves a UART's bytes one at a time,
            // ~150 KB/s under TCG). Port 0 is reserved for a console, so the agent's port is 1 of 2.
            "-chardev", $"socket,id=agent,path={workDirectory.AgentSocket},server=on,wait=off",
            "-device", "virtio-serial-pci,id=agentbus,max_ports=2",
            "-device", $"virtserialport,bus=agentbus.0,chardev=agent,name={AgentPortName}",
        ];
    }

    /// <summary>The command as a shell would take it, for the log: what to paste to start the same guest by hand.</summary>
    public static string Display(string binary, IEnumerable<string> arguments) =>
        string.Join(' ', arguments.Prepend(binary).Select(argument => argument.Length > 0 && argument.All(IsPlain) ? argument : ShellCommandLine.Quote(argument)));

    private static bool IsPlain(char c) => char.IsAsciiLetterOrDigit(c) || "-_.,=/:@%+".Contains(c, StringComparison.Ordinal);

    /// <summary>
    /// The guest kernel's command line. portal.ko takes its parameters from it (guest/load-modules.sh passes
    /// every <c>portal.NAME=VALUE</c> to insmod): the window's address is known to the host alone.
    /// </summary>
    private static List<string> KernelArguments(GuestMachine machine, QemuGuestOptions options)
    {
        var arguments = new List<string> { $"console={machine.Console}", "quiet" };
        arguments.AddRange(machine.ReserveWindow(QemuGuest.WindowSize, options.MemoryMiB));
        arguments.AddRange(machine.KernelArguments);
        arguments.AddRange(
        [
            string.Create(CultureInfo.InvariantCulture, $"portal.window_phys=0x{machine.WindowAddress:x}"),
            string.Create(CultureInfo.InvariantCulture, $"portal.host_timeout_ms={(int)options.HostTimeout.TotalMilliseconds}"),
            string.Create(CultureInfo.InvariantCulture, $"portal.hold_budget_ms={(int)Math.Ceiling(options.HoldBudget.TotalMilliseconds)}"),
        ]);
        if (!options.LoadPortalModule)
            arguments.Add("portal.noload");       // guest/init skips insmod
        if (options.Firmware is not null)
            arguments.Add($"rdinit={GuestImageBuilder.FirmwareInit}");     // Portal's pre-init, then the firmware's init

        // A panic reboots at once, and QEMU (-no-reboot) exits: the host sees the end instead of a spinning VM.
        arguments.Add("panic=-1");
        // Under TCG on a loaded host the boot-time IO-APIC timer check can miss its ticks and panic
        // ("IO-APIC + timer doesn't work!", seen at load 13 on 2 cores); QEMU's emulated timer works.
        if (machine.Abi == GuestAbi.X86_64)
            arguments.Add("no_timer_check");
        if (options.PanicOnOops)
            arguments.Add("oops=panic");          // an oops ends the VM too (else only the faulting process dies)
        arguments.AddRange(options.KernelArguments);
        return arguments;
    }
}
