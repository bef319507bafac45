using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Portal.Qemu.Agent;

/// <summary>
/// Talks to <c>portal-agent</c> on the guest's second serial port (framing in guest/README.md):
/// <c>R id len</c> + command runs it, the guest streams <c>O id len</c> + output and ends with
/// <c>X id code</c>; <c>K id</c> kills, <c>P token</c> pings, <c>Q</c> shuts the guest down.
/// </summary>
internal sealed class AgentClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly ConcurrentDictionary<string, RunningCommand> _running = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _bye = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reader;
    private readonly FrameReader _frames;
    private long _nextId;
    private long _pings;
    private Exception? _failure;

    private AgentClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _frames = new FrameReader(_stream);
        _reader = Task.Run(ReadLoopAsync);
    }

    /// <summary>Completes when the agent has said READY.</summary>
    public Task Ready => _ready.Task;

    /// <summary>When bytes last came from the agent (a Stopwatch timestamp): the guest's liveness.</summary>
    public long LastHeard => _frames.LastRead;

    /// <summary>Lines the agent reported as errors (E frames), for diagnostics.</summary>
    public ConcurrentQueue<string> Errors { get; } = new();

    /// <summary>Connects to QEMU's socket for the agent's serial port, retrying until QEMU has created it.</summary>
    public static async Task<AgentClient> ConnectAsync(string socketPath, Func<bool> qemuAlive, CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!qemuAlive())
                throw new InvalidOperationException("QEMU exited before its agent socket could be reached.");
            if (File.Exists(socketPath))
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
                    return new AgentClient(socket);
                }
                catch (SocketException)
                {
                    socket.Dispose();
                }
            }
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Runs a shell command line in the guest; returns its exit code and merged output.</summary>
    public async Task<(int ExitCode, string Output)> RunAsync(string commandLine, Action<string>? output, CancellationToken cancellationToken)
    {
        await _ready.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        var id = Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture);
        var command = new RunningCommand(output);
        _running[id] = command;
        if (Volatile.Read(ref _failure) is { } failure)
            command.Exited.TrySetException(failure);        // lost before (or while) it was added
        var payload = Encoding.UTF8.GetBytes(commandLine);
        await SendAsync([.. Encoding.ASCII.GetBytes($"R {id} {payload.Length}\n"), .. payload], cancellationToken).ConfigureAwait(false);
        try
        {
            var exitCode = await command.Exited.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return (exitCode, command.Text);
        }
        catch (OperationCanceledException)
        {
            try
            {
                await SendAsync(Encoding.ASCII.GetBytes($"K {id}\n"), CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                // the guest is gone, and the command with it: the cancellation stands
            }
            throw;
        }
        finally
        {
            _running.TryRemove(id, out _);
        }
    }

    /// <summary>Sends a ping (<c>P n</c>); its answer, like any bytes from the agent, moves <see cref="LastHeard"/>.</summary>
    public Task PingAsync(CancellationToken cancellationToken) =>
        SendAsync(Encoding.ASCII.GetBytes($"P {Interlocked.Increment(ref _pings)}\n"), cancellationToken);

    /// <summary>The guest is lost: every running command, and every later one, fails with <paramref name="reason"/>.</summary>
    public void Fail(Exception reason)
    {
        Volatile.Write(ref _failure, reason);
        foreach (var command in _running.Values)
            command.Exited.TrySetException(reason);
    }

    /// <summary>Asks the agent to end every command and exit (the guest then powers off).</summary>
    public async Task QuitAsync(TimeSpan timeout)
    {
        try
        {
            await SendAsync("Q\n"u8.ToArray(), CancellationToken.None).ConfigureAwait(false);
            await _bye.Task.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or TimeoutException or ObjectDisposedException)
        {
            // the guest may already be gone; the caller stops QEMU either way
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Shutdown(SocketShutdown.Both);
        await _stream.DisposeAsync().ConfigureAwait(false);
        try
        {
            await _reader.ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        foreach (var command in _running.Values)
            command.Exited.TrySetException(new IOException("The guest agent connection closed."));
        _sendLock.Dispose();
        _stop.Dispose();
    }

    private async Task SendAsync(byte[] frame, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private async Task ReadLoopAsync()
    {
        var reader = _frames;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var line = await reader.ReadLineAsync(_stop.Token).ConfigureAwait(false);
                if (line is null)
                    break;
                var parts = line.Split(' ', 3);
                switch (parts[0])
                {
                    case "READY":
                        _ready.TrySetResult();
                        break;
                    case "O" when parts.Length == 3 && int.TryParse(parts[2], CultureInfo.InvariantCulture, out var length) && length is >= 0 and <= 1 << 20:
                        var bytes = await reader.ReadExactlyAsync(length, _stop.Token).ConfigureAwait(false);
                        if (_running.TryGetValue(parts[1], out var running))
                            running.Append(bytes);
                        break;
                    case "X" when parts.Length == 3 && int.TryParse(parts[2], CultureInfo.InvariantCulture, out var code):
                        if (_running.TryGetValue(parts[1], out var ended))
                            ended.Exited.TrySetResult(code);
                        break;
                    case "BYE":
                        _bye.TrySetResult();
                        break;
                    case "E":
                        Errors.Enqueue(line);
                        break;
                    default:
                        break;      // boot noise before READY, answers to pings
                }
            }
        }
        finally
        {
            var closed = new IOException("The guest agent connection closed (did the guest stop?).");
            _ready.TrySetException(closed);
            _bye.TrySetResult();
            foreach (var command in _running.Values)
                command.Exited.TrySetException(closed);
        }
    }

    private sealed class RunningCommand(Action<string>? output)
    {
        // Bytes, decoded at the end: a UTF-8 character may straddle two output frames.
        private readonly ArrayBufferWriter<byte> _bytes = new();

        public TaskCompletionSource<int> Exited { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Text
        {
            get
            {
                lock (_bytes)
                    return Encoding.UTF8.GetString(_bytes.WrittenSpan);
            }
        }

        // For the stream: a decoder keeps the first bytes of a character split between frames until the rest arrives.
        private readonly Decoder _streamDecoder = Encoding.UTF8.GetDecoder();

        public void Append(byte[] chunk)
        {
            string? streamed = null;
            lock (_bytes)
            {
                _bytes.Write(chunk);
                if (output is not null)
                {
                    var characters = new char[_streamDecoder.GetCharCount(chunk, flush: false)];
                    var count = _streamDecoder.GetChars(chunk, characters, flush: false);
                    streamed = new string(characters, 0, count);
                }
            }
            if (streamed is { Length: > 0 })
                output!(streamed);
        }
    }

    /// <summary>Reads header lines and exact-length payloads from the agent's byte stream.</summary>
    private sealed class FrameReader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _start, _end;
        private long _lastRead = System.Diagnostics.Stopwatch.GetTimestamp();

        /// <summary>When bytes last arrived (a Stopwatch timestamp), whatever frame they belong to.</summary>
        public long LastRead => Volatile.Read(ref _lastRead);

        public async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                var newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
                if (newline >= 0)
                {
                    var line = Encoding.UTF8.GetString(_buffer, _start, newline - _start).TrimEnd('\r');
                    _start = newline + 1;
                    return line;
                }
                if (!await FillAsync(cancellationToken).ConfigureAwait(false))
                    return null;
            }
        }

        public async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
        {
            var result = new byte[count];
            var done = 0;
            while (done < count)
            {
                if (_start == _end && !await FillAsync(cancellationToken).ConfigureAwait(false))
                    throw new EndOfStreamException("The guest agent connection closed inside a frame.");
                var take = Math.Min(count - done, _end - _start);
                Array.Copy(_buffer, _start, result, done, take);
                _start += take;
                done += take;
            }
            return result;
        }

        private async Task<bool> FillAsync(CancellationToken cancellationToken)
        {
            if (_start > 0)
            {
                Array.Copy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            if (_end == _buffer.Length)
                throw new InvalidDataException("The guest agent sent a header line longer than 64 KiB.");
            var read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read > 0)
                Volatile.Write(ref _lastRead, System.Diagnostics.Stopwatch.GetTimestamp());
            _end += read;
            return read > 0;
        }
    }
}
