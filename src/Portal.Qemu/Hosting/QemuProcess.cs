using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Portal.Qemu.Hosting;

/// <summary>
/// The QEMU process. It is started through <c>setpriv --pdeathsig KILL</c> from a thread that lives
/// as long as QEMU: Linux sends the signal when the thread that forked the child ends, which happens
/// when the host process dies in any way (even SIGKILL), so QEMU is never orphaned.
/// </summary>
internal sealed class QemuProcess : IDisposable
{
    private readonly ManualResetEventSlim _release = new();
    private readonly StringBuilder _errors = new();
    private Process? _process;
    private Task? _exited;
    private int _id;
    private int _exitCode;

    private QemuProcess()
    {
    }

    public int Id => _id;

    public bool HasExited => _process!.HasExited;

    /// <summary>
    /// Completes when QEMU has exited (and its output has been read). The runtime reaps the child on
    /// SIGCHLD, so this fires at once, with no polling.
    /// </summary>
    public Task Exited => _exited!;

    /// <summary>How QEMU ended (once <see cref="Exited"/> has completed), for messages: "exited with code 1" or "was killed by signal 9 (SIGKILL)".</summary>
    /// <remarks>
    /// .NET reports a child that a signal ended as 128 + the signal's number; QEMU itself exits with 0 or 1,
    /// so a code above 128 is read as the signal.
    /// </remarks>
    public string ExitDescription
    {
        get
        {
            var code = Volatile.Read(ref _exitCode);
            return code > 128 && code < 128 + 65
                ? string.Create(CultureInfo.InvariantCulture, $"was killed by signal {code - 128}{SignalName(code - 128)}")
                : string.Create(CultureInfo.InvariantCulture, $"exited with code {code}");
        }
    }

    /// <summary>What QEMU printed on stderr (errors about its arguments, for example).</summary>
    public string Errors
    {
        get
        {
            lock (_errors)
                return _errors.ToString();
        }
    }

    public static QemuProcess Start(string executable, IReadOnlyList<string> arguments)
    {
        var qemu = new QemuProcess();
        var started = new TaskCompletionSource();
        var owner = new Thread(() =>
        {
            try
            {
                var start = new ProcessStartInfo("setpriv", ["--pdeathsig", "KILL", "--", executable, .. arguments])
                {
                    RedirectStandardError = true,
                    RedirectStandardOutput = true,
                    RedirectStandardInput = true,   // QEMU must not read the host's terminal
                    UseShellExecute = false,
                };
                var process = new Process { StartInfo = start };
                process.ErrorDataReceived += (_, e) => qemu.Collect(e.Data);
                process.OutputDataReceived += (_, e) => qemu.Collect(e.Data);
                process.Start();
                process.BeginErrorReadLine();
                process.BeginOutputReadLine();
                qemu._process = process;
                qemu._id = process.Id;
                qemu._exited = qemu.RecordExitAsync(process);
                started.SetResult();
            }
            catch (Exception e)
            {
                started.SetException(e);
                return;
            }
            qemu._release.Wait();       // keep this thread (QEMU's "parent") alive until QEMU is gone
        })
        { IsBackground = true, Name = "qemu-owner" };
        owner.Start();
        started.Task.GetAwaiter().GetResult();
        return qemu;
    }

    public Task WaitForExitAsync(CancellationToken cancellationToken) => _process!.WaitForExitAsync(cancellationToken);

    public void Kill()
    {
        try
        {
            if (_process is { HasExited: false })
                _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // exited meanwhile
        }
    }

    public void Dispose()
    {
        Kill();
        _process?.WaitForExit(5000);
        _process?.Dispose();
        _release.Set();
    }

    /// <summary>Keeps the exit code: the process object may be disposed by the time a message is written.</summary>
    private async Task RecordExitAsync(Process process)
    {
        await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            Volatile.Write(ref _exitCode, process.ExitCode);
        }
        catch (InvalidOperationException)
        {
            // disposed meanwhile: the host stopped QEMU itself, and nobody will ask how it ended
        }
    }

    private static string SignalName(int signal) => signal switch
    {
        1 => " (SIGHUP)",
        2 => " (SIGINT)",
        3 => " (SIGQUIT)",
        6 => " (SIGABRT)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        15 => " (SIGTERM)",
        _ => "",
    };

    private void Collect(string? line)
    {
        if (line is null)
            return;
        lock (_errors)
        {
            if (_errors.Length < 64 * 1024)
                _errors.AppendLine(line);
        }
    }
}
