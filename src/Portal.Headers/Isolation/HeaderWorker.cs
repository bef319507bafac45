using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Portal.Headers.Isolation;

/// <summary>
/// Runs libclang in a child process (this assembly again, <c>dotnet exec portal-headers.dll --portal-headers-worker</c>)
/// under a memory limit and a time limit, so that a hostile header cannot exhaust or hang the caller.
/// </summary>
/// <remarks>
/// <para>Why a process: libclang has no include filter and cannot be interrupted. An <c>#include "/dev/zero"</c>
/// reads until memory runs out, an included FIFO blocks in <c>open()</c> forever, and neither can be stopped
/// from another thread. A process can be limited by the kernel and killed.</para>
/// <para>Limits: the worker lowers its own <c>RLIMIT_DATA</c> (not <c>RLIMIT_AS</c>: the .NET runtime reserves far
/// more address space than it uses, and under a 2 GiB <c>RLIMIT_AS</c> it cannot even load libclang), its
/// <c>RLIMIT_CPU</c> (a backstop should this process die without killing it) and <c>RLIMIT_CORE</c> (a crash
/// at 2 GiB must not write a 2 GiB core file). This side enforces the wall-clock limit per ABI: a worker
/// blocked on a FIFO uses no CPU.</para>
/// <para>Cost: one worker per call, whatever the number of ABIs (a .NET start and a libclang load, about a
/// third of a second; docs/layout-manifest.md has the figures).</para>
/// <para>Ending: this side kills the worker past a limit and reaps it before returning. Should this process
/// die instead, the worker sees its stdin close and exits at once.</para>
/// </remarks>
internal static partial class HeaderWorker
{
    /// <summary>The hidden command-line argument that makes portal-headers a worker.</summary>
    public const string Argument = "--portal-headers-worker";

    /// <summary>CPU seconds granted beyond the wall-clock total: the CPU limit only backs the clock up.</summary>
    const int CpuSlackSeconds = 10;

    /// <summary>How long a worker that has answered (or failed) may take to exit before it is killed.</summary>
    static readonly TimeSpan ExitGrace = TimeSpan.FromSeconds(10);

    // ---- Parent side ------------------------------------------------------------------------------

    /// <summary>Parses <paramref name="path"/> for each ABI in one worker; throws what an in-process parse would, or <see cref="HeaderLimitException"/>.</summary>
    public static IReadOnlyList<LayoutManifest> Parse(string path, string header, IReadOnlyList<HeaderAbi> abis, HeaderParseOptions options, HeaderParseLimits limits)
    {
        var request = new WorkerRequest(path, header, [.. abis.Select(WorkerAbi.From)], options.IncludeDirectories, options.Defines, options.Structs,
            limits.MaxDiagnostics, limits.MemoryLimit, (long)Math.Ceiling(limits.Timeout.TotalSeconds * abis.Count) + CpuSlackSeconds);
        var info = StartInfo();
        using var process = new Process { StartInfo = info };
        var stderr = new StderrTail();
        process.ErrorDataReceived += (_, e) => stderr.Add(e.Data);
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new HeaderToolException($"cannot start the header parser worker ({info.FileName} {string.Join(' ', info.ArgumentList)}): {e.Message}", e);
        }
        process.BeginErrorReadLine();
        var manifests = new List<LayoutManifest>(abis.Count);
        try
        {
            try
            {
                // stdin stays open afterwards: its end is how the worker learns that this process is gone.
                process.StandardInput.WriteLine(request.ToJson());
                process.StandardInput.Flush();
            }
            catch (IOException)
            {
                // The worker died before reading (a pipe error): what it left on stderr says why.
            }
            foreach (var abi in abis)
            {
                var read = process.StandardOutput.ReadLineAsync();
                if (!read.Wait(Clamp(limits.Timeout)))
                {
                    Kill(process);
                    throw new HeaderLimitException(HeaderLimit.Time, abi.Name,
                        $"libclang did not finish reading {header} for {abi.Name} within the {HeaderParseLimits.FormatTime(limits.Timeout)} time limit (an #include of a FIFO, a device or a huge file?)");
                }
                if (read.Result is not { } line)
                    throw Died(process, stderr, header, abi.Name, limits);
                var reply = JsonSerializer.Deserialize(line, WorkerJsonContext.Default.WorkerReply)
                    ?? throw new HeaderToolException($"the header parser worker answered nothing for {abi.Name}");
                if (reply.Failure is { } failure)
                    throw Failed(process, stderr, failure, header, abi.Name, limits);
                manifests.Add(reply.Manifest ?? throw new HeaderToolException($"the header parser worker sent no manifest for {abi.Name}"));
            }
            process.StandardInput.Close();
            WaitOrKill(process);
            return manifests;
        }
        finally
        {
            // Whatever happened, no worker outlives the call.
            Kill(process);
            process.WaitForExit();
        }
    }

    /// <summary>The worker stopped answering: say which limit it hit, or what it printed.</summary>
    static HeaderToolException Died(Process process, StderrTail stderr, string header, string abi, HeaderParseLimits limits)
    {
        WaitOrKill(process);
        var code = process.ExitCode;
        if (stderr.SawOutOfMemory)
            return MemoryExceeded(header, abi, limits);
        if (code == 128 + SignalCpuTimeLimit)
        {
            return new HeaderLimitException(HeaderLimit.Time, abi,
                $"libclang used up its CPU time reading {header} for {abi} (the {HeaderParseLimits.FormatTime(limits.Timeout)} time limit per ABI)");
        }
        var signal = code > 128 ? $" (killed by signal {code - 128}{(code == 137 ? ": the system's out-of-memory killer?" : "")})" : "";
        return new HeaderToolException($"the header parser worker ended with exit code {code}{signal} while reading {header} for {abi}{stderr.Describe()}");
    }

    /// <summary>The worker reported a failure: the exception an in-process parse would have thrown.</summary>
    static HeaderToolException Failed(Process process, StderrTail stderr, WorkerFailure failure, string header, string abi, HeaderParseLimits limits)
    {
        switch (failure.Kind)
        {
            case WorkerFailureKind.Parse:
                return new HeaderParseException(abi, failure.Errors ?? [], failure.ErrorCount);
            case WorkerFailureKind.Argument:
                return new HeaderArgumentException(failure.Message);
            case WorkerFailureKind.Memory:
                return MemoryExceeded(header, abi, limits);
            case WorkerFailureKind.Crash:
                // LLVM wrote why on stderr before aborting: wait for the worker to end so that all of it has arrived.
                WaitOrKill(process);
                return stderr.SawOutOfMemory
                    ? MemoryExceeded(header, abi, limits)
                    : new HeaderToolException($"libclang crashed reading {header} for {abi}{stderr.Describe()}");
            default:
                return new HeaderToolException(failure.Message);
        }
    }

    static HeaderLimitException MemoryExceeded(string header, string abi, HeaderParseLimits limits)
        => new(HeaderLimit.Memory, abi,
            $"libclang exceeded the {HeaderParseLimits.FormatSize(limits.MemoryLimit)} memory limit reading {header} for {abi} (an #include of a device or a huge file?)");

    static void WaitOrKill(Process process)
    {
        if (!process.WaitForExit(ExitGrace))
            Kill(process);
        process.WaitForExit(); // also drains stderr to its end
    }

    static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
                process.Kill();
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

    static TimeSpan Clamp(TimeSpan timeout) => timeout.TotalMilliseconds > int.MaxValue ? TimeSpan.FromMilliseconds(int.MaxValue) : timeout;

    /// <summary>
    /// <c>dotnet exec portal-headers.dll --portal-headers-worker</c>, with the muxer of the runtime running now and
    /// the tool's own runtimeconfig (or, where the tool ships inside another application, that application's).
    /// </summary>
    static ProcessStartInfo StartInfo()
    {
        var assembly = typeof(HeaderWorker).Assembly.Location;
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
        info.ArgumentList.Add(Argument);
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

    static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>SIGXCPU, what <c>RLIMIT_CPU</c>'s soft limit sends (on the hosts .NET runs on: x86 and ARM).</summary>
    const int SignalCpuTimeLimit = 24;

    /// <summary>The end of the worker's stderr (LLVM's and .NET's last words), bounded whatever it prints.</summary>
    sealed partial class StderrTail
    {
        const int MaxLines = 12;
        const int MaxLineLength = 300;
        readonly Queue<string> lines = new();
        readonly Lock gate = new();
        bool outOfMemory;

        public void Add(string? line)
        {
            if (line is null)
                return;
            lock (gate)
            {
                if (OutOfMemoryPattern().IsMatch(line))
                    outOfMemory = true;
                lines.Enqueue(line.Length > MaxLineLength ? line[..MaxLineLength] + "…" : line);
                if (lines.Count > MaxLines)
                    lines.Dequeue();
            }
        }

        /// <summary>Whether LLVM, the C++ runtime or .NET said it ran out of memory.</summary>
        public bool SawOutOfMemory
        {
            get
            {
                lock (gate)
                    return outOfMemory;
            }
        }

        /// <summary><c>": " + the last lines</c>, or nothing when the worker printed nothing.</summary>
        public string Describe()
        {
            lock (gate)
                return lines.Count == 0 ? "" : ":\n" + string.Join('\n', lines);
        }

        [GeneratedRegex("out of memory|bad_alloc|Allocation failed|OutOfMemory|Cannot allocate memory", RegexOptions.IgnoreCase)]
        private static partial Regex OutOfMemoryPattern();
    }

    // ---- Worker side ------------------------------------------------------------------------------

    /// <summary>strerror(ENOMEM), as LLVM words a file it could not allocate memory for.</summary>
    const string OutOfMemoryMessage = "Cannot allocate memory";

    /// <summary>Worker exit codes: answered every ABI, reported a failure, or was given no request.</summary>
    const int WorkerDone = 0, WorkerFailed = 1, WorkerNoRequest = 2, WorkerParentGone = 3;

    /// <summary>The worker's main: reads the request from stdin, limits itself, answers on stdout.</summary>
    public static int Serve()
    {
        var input = new StreamReader(Console.OpenStandardInput(), Utf8);
        WorkerRequest? request;
        try
        {
            request = input.ReadLine() is { } line ? WorkerRequest.Parse(line) : null;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            request = null;
        }
        if (request is null)
        {
            Console.Error.WriteLine($"portal-headers: {Argument} is portal-headers' own worker: it reads a request from its parent on stdin");
            return WorkerNoRequest;
        }
        using var output = new StreamWriter(Console.OpenStandardOutput(), Utf8);
        void Reply(WorkerReply reply)
        {
            output.WriteLine(JsonSerializer.Serialize(reply, WorkerReplyWriter.Default.WorkerReply));
            output.Flush();
        }

        if (LimitSelf(request) is { } problem)
        {
            Reply(new WorkerReply(request.Abis.Count > 0 ? request.Abis[0].Name : "", null, new WorkerFailure(WorkerFailureKind.Tool, problem)));
            return WorkerFailed;
        }
        // The parent holds our stdin open while it waits; when it closes, nobody is left to answer.
        new Thread(() =>
        {
            var buffer = new char[64];
            try
            {
                while (input.Read(buffer, 0, buffer.Length) > 0)
                {
                }
            }
            catch (IOException)
            {
            }
            Posix.ExitNow(WorkerParentGone);
        })
        { IsBackground = true, Name = "portal-headers parent watch" }.Start();

        var options = new HeaderParseOptions
        {
            IncludeDirectories = request.IncludeDirectories,
            Defines = request.Defines,
            Structs = request.Structs,
            Limits = null,
        };
        foreach (var abi in request.Abis)
        {
            WorkerFailure? failure = null;
            LayoutManifest? manifest = null;
            try
            {
                manifest = HeaderParser.ParseInProcess(request.Path, request.Header, abi.ToAbi(), options, request.MaxDiagnostics);
            }
            catch (HeaderParseException e) when (e.Errors.Any(d => d.Message.EndsWith(OutOfMemoryMessage, StringComparison.Ordinal)))
            {
                // clang could not allocate a file's buffer (a huge regular file is read whole when it cannot be
                // mapped): it says "cannot open file 'x': Cannot allocate memory". That is the memory limit speaking.
                failure = new WorkerFailure(WorkerFailureKind.Memory, e.Errors.First(d => d.Message.EndsWith(OutOfMemoryMessage, StringComparison.Ordinal)).Message);
            }
            catch (HeaderParseException e)
            {
                failure = new WorkerFailure(WorkerFailureKind.Parse, e.Message, e.Errors, e.ErrorCount);
            }
            catch (HeaderArgumentException e)
            {
                failure = new WorkerFailure(WorkerFailureKind.Argument, e.Message);
            }
            catch (Clang.ClangCrashedException e)
            {
                failure = new WorkerFailure(WorkerFailureKind.Crash, e.Message);
            }
            catch (HeaderToolException e)
            {
                failure = new WorkerFailure(WorkerFailureKind.Tool, e.Message);
            }
            catch (OutOfMemoryException e)
            {
                manifest = null;
                failure = new WorkerFailure(WorkerFailureKind.Memory, e.Message);
            }
            Reply(new WorkerReply(abi.Name, manifest, failure));
            if (failure is not null)
                return WorkerFailed;
        }
        return WorkerDone;
    }

    /// <summary>Applies the request's memory and CPU limits to this process (Linux); the error, or null.</summary>
    static string? LimitSelf(WorkerRequest request)
    {
        if (!OperatingSystem.IsLinux())
            return null; // only the parent's wall clock applies
        var memory = (ulong)request.MemoryLimit;
        var cpu = (ulong)request.CpuSeconds;
        if (Posix.LowerLimit(Posix.RlimitCore, 0, 0) is { } core)
            return $"cannot disable core dumps of the header parser worker: {core}";
        if (Posix.LowerLimit(Posix.RlimitData, memory, memory) is { } data)
            return $"cannot limit the header parser worker's memory: {data}";
        // Soft limit: SIGXCPU; hard limit a little later: SIGKILL.
        if (Posix.LowerLimit(Posix.RlimitCpu, cpu, cpu + 5) is { } time)
            return $"cannot limit the header parser worker's CPU time: {time}";
        return null;
    }
}
