using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Portal.Headers.Isolation;

/// <summary>
/// The worker process's side (see <see cref="HeaderWorker"/>): requests on stdin, one reply per ABI on stdout,
/// libclang under the limits each request carries.
/// </summary>
internal static class WorkerMain
{
    /// <summary>The hidden command-line argument that makes portal-headers a worker.</summary>
    public const string Argument = "--portal-headers-worker";

    /// <summary>strerror(ENOMEM), as LLVM words a file it could not allocate memory for.</summary>
    const string OutOfMemoryMessage = "Cannot allocate memory";

    /// <summary>Exit codes: stdin closed (the parent is done or gone), a failure that leaves libclang unusable, no request.</summary>
    const int ParentGone = 0, Failed = 1, NoRequest = 2;

    /// <summary>The worker's main: serves requests until its stdin closes.</summary>
    public static int Serve()
    {
        var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
        var input = new StreamReader(Console.OpenStandardInput(), utf8);
        var requests = new BlockingCollection<string>();
        // The only reader of stdin. Its end means nobody is left to answer (the parent closed it, or died while we
        // were parsing, perhaps blocked on a FIFO): exit at once, from this thread, whatever the other is doing.
        new Thread(() =>
        {
            try
            {
                while (input.ReadLine() is { } line)
                    requests.Add(line);
            }
            catch (IOException)
            {
            }
            Posix.ExitNow(ParentGone);
        })
        { IsBackground = true, Name = "portal-headers requests" }.Start();

        using var output = new StreamWriter(Console.OpenStandardOutput(), utf8);
        var memoryLimited = false;
        foreach (var line in requests.GetConsumingEnumerable())
        {
            WorkerRequest request;
            try
            {
                request = WorkerRequest.Parse(line);
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                Console.Error.WriteLine($"portal-headers: {Argument} is portal-headers' own worker: it reads requests from its parent on stdin");
                return NoRequest;
            }
            if (LimitSelf(request, ref memoryLimited) is { } problem)
            {
                Reply(output, new WorkerReply(request.Abis.Count > 0 ? request.Abis[0].Name : "", null, new WorkerFailure(WorkerFailureKind.Tool, problem)));
                return Failed;
            }
            var options = new HeaderParseOptions
            {
                IncludeDirectories = request.IncludeDirectories,
                Defines = request.Defines,
                Structs = request.Structs,
                Limits = null,
            };
            foreach (var abi in request.Abis)
            {
                var (manifest, failure) = ParseOne(request, abi, options);
                Reply(output, new WorkerReply(abi.Name, manifest, failure));
                if (failure is null)
                    continue;
                // After a crash or at the memory limit libclang's state is suspect: end, and let the parent see why.
                if (failure.Kind is not (WorkerFailureKind.Parse or WorkerFailureKind.Argument))
                    return Failed;
                break; // the header's own errors: the request is answered, the next one may come
            }
            // What this header took goes back to the system where it can, so the next request starts with its limit free.
            Posix.TrimHeap();
        }
        return ParentGone;
    }

    static (LayoutManifest? Manifest, WorkerFailure? Failure) ParseOne(WorkerRequest request, WorkerAbi abi, HeaderParseOptions options)
    {
        try
        {
            return (HeaderParser.ParseInProcess(request.Path, request.Header, abi.ToAbi(), options, request.MaxDiagnostics), null);
        }
        catch (HeaderParseException e) when (e.Errors.FirstOrDefault(d => d.Message.EndsWith(OutOfMemoryMessage, StringComparison.Ordinal)) is { } memory)
        {
            // clang could not allocate a file's buffer (a huge regular file is read whole when it cannot be mapped)
            // and says "cannot open file 'x': Cannot allocate memory": that is the memory limit speaking.
            return (null, new WorkerFailure(WorkerFailureKind.Memory, memory.Message));
        }
        catch (HeaderParseException e)
        {
            return (null, new WorkerFailure(WorkerFailureKind.Parse, e.Message, e.Errors, e.ErrorCount));
        }
        catch (HeaderArgumentException e)
        {
            return (null, new WorkerFailure(WorkerFailureKind.Argument, e.Message));
        }
        catch (Clang.ClangCrashedException e)
        {
            return (null, new WorkerFailure(WorkerFailureKind.Crash, e.Message));
        }
        catch (HeaderToolException e)
        {
            return (null, new WorkerFailure(WorkerFailureKind.Tool, e.Message));
        }
        catch (OutOfMemoryException e)
        {
            return (null, new WorkerFailure(WorkerFailureKind.Memory, e.Message));
        }
    }

    static void Reply(StreamWriter output, WorkerReply reply)
    {
        output.WriteLine(JsonSerializer.Serialize(reply, WorkerReplyWriter.Default.WorkerReply));
        output.Flush();
    }

    /// <summary>
    /// Applies the request's limits to this process (Linux; elsewhere only the parent's clock applies): the memory
    /// limit and no core dumps once, a CPU budget from now for each request. The error, or null.
    /// </summary>
    static string? LimitSelf(WorkerRequest request, ref bool memoryLimited)
    {
        if (!OperatingSystem.IsLinux())
            return null;
        if (!memoryLimited)
        {
            if (Posix.LowerLimit(Posix.RlimitCore, 0, 0) is { } core)
                return $"cannot disable core dumps of the header parser worker: {core}";
            var memory = (ulong)request.MemoryLimit;
            if (Posix.LowerLimit(Posix.RlimitData, memory, memory) is { } data)
                return $"cannot limit the header parser worker's memory: {data}";
            memoryLimited = true;
        }
        // The soft limit sends SIGXCPU, which ends the process. The hard limit stays where it is, so that the next
        // request can be given its own budget (a soft limit may be raised up to the hard one).
        var used = (ulong)Math.Ceiling(Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds);
        return Posix.SetSoftLimit(Posix.RlimitCpu, used + (ulong)request.CpuSeconds) is { } time
            ? $"cannot limit the header parser worker's CPU time: {time}"
            : null;
    }
}
