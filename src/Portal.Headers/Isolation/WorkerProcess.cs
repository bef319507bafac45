using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Portal.Headers.Isolation;

/// <summary>How one request to a worker ended.</summary>
/// <param name="Manifests">One per ABI, when every ABI parsed.</param>
/// <param name="Error">What to throw otherwise.</param>
/// <param name="Reusable">Whether the worker may serve another request: it answered normally (a manifest, or the header's own errors).</param>
/// <param name="Stale">A reused worker was found dead before it read the request: try again with a fresh one.</param>
internal sealed record WorkerOutcome(IReadOnlyList<LayoutManifest>? Manifests, HeaderToolException? Error, bool Reusable, bool Stale = false);

/// <summary>
/// One worker process, parent side: <c>dotnet exec portal-headers.dll --portal-headers-worker</c>, its pipes, the
/// end of its stderr. Disposing kills and reaps it.
/// </summary>
internal sealed partial class WorkerProcess : IDisposable
{
    /// <summary>How long a worker that has failed may take to exit (and finish its stderr) before it is killed.</summary>
    static readonly TimeSpan ExitGrace = TimeSpan.FromSeconds(10);

    /// <summary>SIGXCPU, what <c>RLIMIT_CPU</c>'s soft limit sends (on the hosts .NET runs on: x86 and ARM).</summary>
    const int SignalCpuTimeLimit = 24;

    static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    readonly Process _process;
    readonly StderrTail _stderr = new();
    readonly Lock _timerGate = new();
    Timer? _idleTimer;

    WorkerProcess(Process process, long memoryLimit)
    {
        _process = process;
        MemoryLimit = memoryLimit;
    }

    /// <summary>The memory limit the worker applied to itself with its first request (it can only be lowered).</summary>
    public long MemoryLimit { get; }

    /// <summary>Requests served.</summary>
    public int Uses { get; private set; }

    public bool HasExited
    {
        get
        {
            try
            {
                return _process.HasExited;
            }
            catch (InvalidOperationException)
            {
                return true;
            }
        }
    }

    /// <summary>Starts a worker that will limit itself to <paramref name="memoryLimit"/> bytes.</summary>
    public static WorkerProcess Start(long memoryLimit)
    {
        var info = StartInfo();
        var process = new Process { StartInfo = info };
        var worker = new WorkerProcess(process, memoryLimit);
        process.ErrorDataReceived += (_, e) => worker._stderr.Add(e.Data);
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            process.Dispose();
            throw new HeaderToolException($"cannot start the header parser worker ({info.FileName} {string.Join(' ', info.ArgumentList)}): {e.Message}", e);
        }
        process.BeginErrorReadLine();
        return worker;
    }

    /// <summary>
    /// Sends <paramref name="request"/> and reads one reply per ABI, each within <see cref="HeaderParseLimits.Timeout"/>;
    /// kills the worker past it. Never throws for what the worker does: the outcome says.
    /// </summary>
    public WorkerOutcome Exchange(WorkerRequest request, IReadOnlyList<HeaderAbi> abis, string header, HeaderParseLimits limits)
    {
        var reused = Uses++ > 0;
        _stderr.Clear();
        try
        {
            // stdin stays open afterwards: its end is how the worker learns that this process is gone.
            _process.StandardInput.WriteLine(request.ToJson());
            _process.StandardInput.Flush();
        }
        catch (IOException)
        {
            if (reused)
                return new WorkerOutcome(null, null, Reusable: false, Stale: true);
            // A fresh worker died before reading: what it left on stderr says why, below.
        }
        var manifests = new List<LayoutManifest>(abis.Count);
        foreach (var abi in abis)
        {
            var read = _process.StandardOutput.ReadLineAsync();
            if (!read.Wait(Clamp(limits.Timeout)))
            {
                Kill();
                return Failure(new HeaderLimitException(HeaderLimit.Time, abi.Name,
                    $"libclang did not finish reading {header} for {abi.Name} within the {HeaderParseLimits.FormatTime(limits.Timeout)} time limit (an #include of a FIFO, a device or a huge file?)"));
            }
            if (read.Result is not { } line)
                return Failure(Died(header, abi.Name, limits));
            WorkerReply? reply;
            try
            {
                reply = JsonSerializer.Deserialize(line, WorkerJsonContext.Default.WorkerReply);
            }
            catch (JsonException e)
            {
                Kill();
                return Failure(new HeaderToolException($"the header parser worker answered something else than a reply for {abi.Name}: {e.Message}", e));
            }
            if (reply?.Failure is { } failure)
                return Failed(failure, header, abi.Name, limits);
            if (reply?.Manifest is not { } manifest || reply.Abi != abi.Name)
                return Failure(new HeaderToolException($"the header parser worker answered out of turn for {abi.Name}"));
            manifests.Add(manifest);
        }
        return new WorkerOutcome(manifests, null, Reusable: true);
    }

    static WorkerOutcome Failure(HeaderToolException error) => new(null, error, Reusable: false);

    /// <summary>The worker stopped answering: say which limit it hit, or what it printed.</summary>
    HeaderToolException Died(string header, string abi, HeaderParseLimits limits)
    {
        WaitOrKill();
        var code = _process.ExitCode;
        if (_stderr.SawOutOfMemory)
            return MemoryExceeded(header, abi, limits);
        if (code == 128 + SignalCpuTimeLimit)
        {
            return new HeaderLimitException(HeaderLimit.Time, abi,
                $"libclang used up its CPU time reading {header} for {abi} (the {HeaderParseLimits.FormatTime(limits.Timeout)} time limit per ABI)");
        }
        var signal = code > 128 ? $" (killed by signal {code - 128}{(code == 137 ? ": the system's out-of-memory killer?" : "")})" : "";
        return new HeaderToolException($"the header parser worker ended with exit code {code}{signal} while reading {header} for {abi}{_stderr.Describe()}");
    }

    /// <summary>The worker reported a failure: the exception an in-process parse would have thrown.</summary>
    WorkerOutcome Failed(WorkerFailure failure, string header, string abi, HeaderParseLimits limits)
    {
        switch (failure.Kind)
        {
            case WorkerFailureKind.Parse:
                return new WorkerOutcome(null, new HeaderParseException(abi, failure.Errors ?? [], failure.ErrorCount), Reusable: true);
            case WorkerFailureKind.Argument:
                return new WorkerOutcome(null, new HeaderArgumentException(failure.Message), Reusable: true);
            case WorkerFailureKind.Memory:
                return Failure(MemoryExceeded(header, abi, limits));
            case WorkerFailureKind.Crash:
                // LLVM wrote why on stderr before aborting, and the worker exits after a crash: once it has, all of it is here.
                WaitOrKill();
                return Failure(_stderr.SawOutOfMemory
                    ? MemoryExceeded(header, abi, limits)
                    : new HeaderToolException($"libclang crashed reading {header} for {abi}{_stderr.Describe()}"));
            default:
                return Failure(new HeaderToolException(failure.Message));
        }
    }

    static HeaderLimitException MemoryExceeded(string header, string abi, HeaderParseLimits limits)
        => new(HeaderLimit.Memory, abi,
            $"libclang exceeded the {HeaderParseLimits.FormatSize(limits.MemoryLimit)} memory limit reading {header} for {abi} (an #include of a device or a huge file?)");

    /// <summary>The worker's data segment now (what its memory limit counts), or null when it cannot be read.</summary>
    public long? DataBytes()
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            {
                if (line.StartsWith("VmData:", StringComparison.Ordinal)
                    && long.TryParse(line.AsSpan(7).Trim().TrimEnd("kB").Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var kilobytes))
                    return kilobytes * 1024;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
        }
        return null;
    }

    /// <summary>Calls <paramref name="retire"/> once the worker has been idle for <paramref name="after"/>, unless <see cref="StopIdleTimer"/> comes first.</summary>
    public void StartIdleTimer(TimeSpan after, Action retire)
    {
        lock (_timerGate)
        {
            _idleTimer?.Dispose();
            _idleTimer = new Timer(_ => retire(), null, after, Timeout.InfiniteTimeSpan);
        }
    }

    public void StopIdleTimer()
    {
        lock (_timerGate)
        {
            _idleTimer?.Dispose();
            _idleTimer = null;
        }
    }

    void WaitOrKill()
    {
        if (!_process.WaitForExit(ExitGrace))
            Kill();
        _process.WaitForExit(); // also drains stderr to its end
    }

    void Kill()
    {
        try
        {
            if (!_process.HasExited)
                _process.Kill();
        }
        catch (InvalidOperationException)
        {
            // Exited meanwhile.
        }
        catch (Win32Exception)
        {
            // Exited meanwhile (already reaped).
        }
    }

    /// <summary>Kills and reaps the worker: no worker outlives its use.</summary>
    public void Dispose()
    {
        StopIdleTimer();
        Kill();
        try
        {
            _process.WaitForExit();
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }

    static TimeSpan Clamp(TimeSpan timeout) => timeout.TotalMilliseconds > int.MaxValue ? TimeSpan.FromMilliseconds(int.MaxValue) : timeout;

    /// <summary>
    /// <c>dotnet exec portal-headers.dll --portal-headers-worker</c>, with the muxer of the runtime running now and
    /// the tool's own runtimeconfig (or, where the tool ships inside another application, that application's).
    /// </summary>
    static ProcessStartInfo StartInfo()
    {
        var assembly = typeof(WorkerProcess).Assembly.Location;
        if (string.IsNullOrEmpty(assembly))
            throw new HeaderToolException("the header parser worker cannot start from a single-file application: portal-headers.dll must be a file");
        var info = new ProcessStartInfo(DotnetHost())
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardInputEncoding = Utf8,
            StandardOutputEncoding = Utf8,
            StandardErrorEncoding = Utf8,
        };
        info.ArgumentList.Add("exec");
        var config = Path.ChangeExtension(assembly, ".runtimeconfig.json");
        if (!File.Exists(config) && System.Reflection.Assembly.GetEntryAssembly()?.Location is { Length: > 0 } entry
            && Path.ChangeExtension(entry, ".runtimeconfig.json") is var other && File.Exists(other))
        {
            info.ArgumentList.Add("--runtimeconfig");
            info.ArgumentList.Add(other);
        }
        info.ArgumentList.Add(assembly);
        info.ArgumentList.Add(WorkerMain.Argument);
        return info;
    }

    /// <summary>The dotnet muxer: this process if it is one, else the one that owns the running runtime.</summary>
    static string DotnetHost()
    {
        var name = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        if (Environment.ProcessPath is { } current && Path.GetFileName(current) == name)
            return current;
        // <root>/shared/Microsoft.NETCore.App/<version>/System.Private.CoreLib.dll → <root>/dotnet
        var runtime = Path.GetDirectoryName(typeof(object).Assembly.Location);
        if (!string.IsNullOrEmpty(runtime) && Path.GetFullPath(Path.Combine(runtime, "..", "..", "..", name)) is var muxer && File.Exists(muxer))
            return muxer;
        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : name;
    }

    /// <summary>The end of the worker's stderr (LLVM's and .NET's last words), bounded whatever it prints.</summary>
    sealed partial class StderrTail
    {
        const int MaxLines = 12;
        const int MaxLineLength = 300;
        readonly Queue<string> _lines = new();
        readonly Lock _gate = new();
        bool _outOfMemory;

        public void Add(string? line)
        {
            if (line is null)
                return;
            lock (_gate)
            {
                if (OutOfMemoryPattern().IsMatch(line))
                    _outOfMemory = true;
                _lines.Enqueue(line.Length > MaxLineLength ? line[..MaxLineLength] + "…" : line);
                if (_lines.Count > MaxLines)
                    _lines.Dequeue();
            }
        }

        public void Clear()
        {
            lock (_gate)
            {
                _lines.Clear();
                _outOfMemory = false;
            }
        }

        /// <summary>Whether LLVM, the C++ runtime or .NET said it ran out of memory.</summary>
        public bool SawOutOfMemory
        {
            get
            {
                lock (_gate)
                    return _outOfMemory;
            }
        }

        /// <summary><c>":\n" + the last lines</c>, or nothing when the worker printed nothing.</summary>
        public string Describe()
        {
            lock (_gate)
                return _lines.Count == 0 ? "" : ":\n" + string.Join('\n', _lines);
        }

        [GeneratedRegex("out of memory|bad_alloc|Allocation failed|OutOfMemory|Cannot allocate memory", RegexOptions.IgnoreCase)]
        private static partial Regex OutOfMemoryPattern();
    }
}
