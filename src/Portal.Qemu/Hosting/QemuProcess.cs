using System.Diagnostics;
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

    private QemuProcess()
    {
    }

    public int Id => _process!.Id;

    public bool HasExited => _process!.HasExited;

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
