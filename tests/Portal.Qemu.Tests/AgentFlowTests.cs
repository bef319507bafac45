using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Qemu.Agent;

namespace Portal.Qemu.Tests;

/// <summary>
/// The host side of the agent's output flow control, against a scripted agent on a socket (no guest):
/// what the host keeps of a streamed command's output, and that it never lets a guest send more than
/// its consumer has taken plus one window.
/// </summary>
[TestClass, TestCategory("Reliability")]
public sealed class AgentFlowTests
{
    public TestContext TestContext { get; set; } = null!;

    /// <summary>ASCII lines, so that text and bytes correspond one to one.</summary>
    private static byte Pattern(long offset) => (offset % 61) == 60 ? (byte)'\n' : (byte)('0' + (offset * 7 % 43));

    [TestMethod]
    public async Task A_streamed_command_keeps_only_the_end_of_its_output()
    {
        await using var agent = await ScriptedAgent.StartAsync(TestContext.CancellationToken);
        const long Total = 16L << 20;
        using var seen = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long streamed = 0;
        var run = agent.Client.RunAsync("produce", chunk =>
        {
            var bytes = Encoding.UTF8.GetBytes(chunk);
            seen.AppendData(bytes);
            streamed += bytes.Length;
        }, TestContext.CancellationToken);
        var id = (await agent.NextCommandAsync(TestContext.CancellationToken)).Id;
        await agent.StreamAsync(id, 0, Total, TestContext.CancellationToken);
        await agent.SendAsync($"X {id} 0\n");

        var result = await run.WaitAsync(TimeSpan.FromSeconds(60), TestContext.CancellationToken);
        Assert.AreEqual(0, result.ExitCode);
        Assert.AreEqual(Total, streamed, "the callback saw every byte");
        Assert.AreEqual(Convert.ToHexString(Sha256OfPattern(0, Total)), Convert.ToHexString(seen.GetHashAndReset()));

        Assert.IsTrue(result.Truncated);
        Assert.AreEqual(QemuGuest.StreamedOutputTail, result.Output.Length, "Output keeps the last 64 KiB only");
        var tail = Enumerable.Range(0, QemuGuest.StreamedOutputTail).Select(i => (char)Pattern(Total - QemuGuest.StreamedOutputTail + i));
        Assert.AreEqual(string.Concat(tail), result.Output);
    }

    [TestMethod]
    public async Task Without_a_callback_the_whole_output_is_kept()
    {
        await using var agent = await ScriptedAgent.StartAsync(TestContext.CancellationToken);
        const long Total = 3L << 20;
        var run = agent.Client.RunAsync("produce", null, TestContext.CancellationToken);
        var id = (await agent.NextCommandAsync(TestContext.CancellationToken)).Id;
        await agent.StreamAsync(id, 0, Total, TestContext.CancellationToken);
        await agent.SendAsync($"X {id} 3\n");
        var result = await run.WaitAsync(TimeSpan.FromSeconds(60), TestContext.CancellationToken);
        Assert.AreEqual(3, result.ExitCode);
        Assert.IsFalse(result.Truncated);
        Assert.AreEqual(Total, result.Output.Length);
        Assert.AreEqual(Convert.ToHexString(Sha256OfPattern(0, Total)), Convert.ToHexString(SHA256.HashData(Encoding.ASCII.GetBytes(result.Output))));
    }

    [TestMethod]
    public async Task A_consumer_that_stops_holds_back_its_command_only()
    {
        await using var agent = await ScriptedAgent.StartAsync(TestContext.CancellationToken);
        using var gate = new ManualResetEventSlim();
        using var blocked = new SemaphoreSlim(0);
        long consumed = 0;
        var slow = agent.Client.RunAsync("produce", chunk =>
        {
            Interlocked.Add(ref consumed, chunk.Length);
            blocked.Release();
            gate.Wait();
        }, TestContext.CancellationToken);
        try
        {
            await ConsumerStopsAsync(agent, blocked, gate, () => Interlocked.Read(ref consumed), slow);
        }
        finally
        {
            gate.Set();     // never leave a thread pool thread (or, before the fix, the agent reader) blocked
        }
    }

    private async Task ConsumerStopsAsync(ScriptedAgent agent, SemaphoreSlim blocked, ManualResetEventSlim gate, Func<long> consumed,
        Task<(int ExitCode, string Output, bool Truncated)> slow)
    {
        var id = (await agent.NextCommandAsync(TestContext.CancellationToken)).Id;

        // The agent sends what it may: one window. Then the host must grant nothing while its consumer is stuck.
        var streaming = agent.StreamAsync(id, 0, 8L << 20, TestContext.CancellationToken);
        Assert.IsTrue(await blocked.WaitAsync(TimeSpan.FromSeconds(10), TestContext.CancellationToken));
        await Task.Delay(500, TestContext.CancellationToken);
        Assert.AreEqual(AgentClient.OutputWindow, agent.Sent(id), "one window went out");
        Assert.AreEqual(0L, agent.Granted(id), "no credit while the consumer holds the first chunk");
        Assert.IsFalse(streaming.IsCompleted);

        // Other commands, and pings, still get through.
        var other = agent.Client.RunAsync("other", null, TestContext.CancellationToken);
        var otherId = (await agent.NextCommandAsync(TestContext.CancellationToken)).Id;
        await agent.SendAsync($"O {otherId} 3\nhi\nX {otherId} 0\n");
        Assert.AreEqual("hi\n", (await other.WaitAsync(TimeSpan.FromSeconds(10), TestContext.CancellationToken)).Output);

        gate.Set();
        await streaming.WaitAsync(TimeSpan.FromSeconds(60), TestContext.CancellationToken);
        await agent.SendAsync($"X {id} 0\n");
        var result = await slow.WaitAsync(TimeSpan.FromSeconds(60), TestContext.CancellationToken);
        Assert.AreEqual(0, result.ExitCode);
        Assert.AreEqual(8L << 20, consumed());
        Assert.IsLessThanOrEqualTo(8L << 20, agent.Granted(id), "credit never exceeds what was consumed");
    }

    [TestMethod]
    public async Task An_agent_that_ignores_its_window_fails_the_command_instead_of_growing_the_host()
    {
        await using var agent = await ScriptedAgent.StartAsync(TestContext.CancellationToken);
        using var gate = new ManualResetEventSlim();
        var run = agent.Client.RunAsync("produce", _ => gate.Wait(), TestContext.CancellationToken);
        try
        {
            var id = (await agent.NextCommandAsync(TestContext.CancellationToken)).Id;
            var frame = new byte[60 * 1024];
            for (var sent = 0L; sent <= AgentClient.OutputWindow; sent += frame.Length)
                await agent.SendAsync([.. Encoding.ASCII.GetBytes($"O {id} {frame.Length}\n"), .. frame]);
            var error = await Assert.ThrowsAsync<InvalidDataException>(async () => await run.WaitAsync(TimeSpan.FromSeconds(10), TestContext.CancellationToken));
            StringAssert.Contains(error.Message, "window");
        }
        finally
        {
            gate.Set();
        }

        // The connection stays usable.
        var other = agent.Client.RunAsync("other", null, TestContext.CancellationToken);
        var otherId = (await agent.NextCommandAsync(TestContext.CancellationToken)).Id;
        await agent.SendAsync($"X {otherId} 0\n");
        Assert.AreEqual(0, (await other.WaitAsync(TimeSpan.FromSeconds(10), TestContext.CancellationToken)).ExitCode);
    }

    private static byte[] Sha256OfPattern(long start, long count)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[64 * 1024];
        for (var offset = start; offset < start + count;)
        {
            var n = (int)Math.Min(buffer.Length, start + count - offset);
            for (var i = 0; i < n; i++)
                buffer[i] = Pattern(offset + i);
            hash.AppendData(buffer, 0, n);
            offset += n;
        }
        return hash.GetHashAndReset();
    }

    /// <summary>
    /// Plays portal-agent on the other end of the socket: says READY, hands over R frames, and sends O frames
    /// only as far as the initial window plus the C credits the host sent allow.
    /// </summary>
    private sealed class ScriptedAgent : IAsyncDisposable
    {
        private readonly Socket _listener;
        private readonly Socket _socket;
        private readonly string _path;
        private readonly SemaphoreSlim _sendLock = new(1, 1);
        private readonly System.Threading.Channels.Channel<(string Id, string Text)> _commands = System.Threading.Channels.Channel.CreateUnbounded<(string, string)>();
        private readonly ConcurrentDictionary<string, long> _granted = new();
        private readonly ConcurrentDictionary<string, long> _sent = new();
        private readonly SemaphoreSlim _credit = new(0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _reader;

        private ScriptedAgent(Socket listener, Socket socket, string path, AgentClient client)
        {
            _listener = listener;
            _socket = socket;
            _path = path;
            Client = client;
            _reader = Task.Run(ReadAsync);
        }

        public AgentClient Client { get; }

        public static async Task<ScriptedAgent> StartAsync(CancellationToken cancellationToken)
        {
            var path = Path.Combine(Path.GetTempPath(), $"portal-agent-test-{Guid.NewGuid():N}.sock");
            var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(1);
            var connecting = AgentClient.ConnectAsync(path, () => true, cancellationToken);
            var socket = await listener.AcceptAsync(cancellationToken);
            var agent = new ScriptedAgent(listener, socket, path, await connecting);
            await agent.SendAsync("READY\n");
            return agent;
        }

        public long Sent(string id) => _sent.GetValueOrDefault(id);

        public long Granted(string id) => _granted.GetValueOrDefault(id);

        public async Task<(string Id, string Text)> NextCommandAsync(CancellationToken cancellationToken) =>
            await _commands.Reader.ReadAsync(cancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);

        public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text));

        /// <summary>Sends bytes; a host that stops reading fails the test after 10 s instead of hanging it.</summary>
        public async Task SendAsync(byte[] bytes)
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _sendLock.WaitAsync(limit.Token);
            try
            {
                await _socket.SendAsync(bytes, limit.Token);
            }
            finally
            {
                _sendLock.Release();
            }
        }

        /// <summary>Sends the pattern's bytes [start, start + count) as O frames, waiting for credit as the agent does.</summary>
        public async Task StreamAsync(string id, long start, long count, CancellationToken cancellationToken)
        {
            var frame = new byte[60 * 1024];
            for (var offset = start; offset < start + count;)
            {
                var allowed = AgentClient.OutputWindow + Granted(id) - Sent(id);
                if (allowed <= 0)
                {
                    if (!await _credit.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken) && AgentClient.OutputWindow + Granted(id) - Sent(id) <= 0)
                        throw new TimeoutException($"the host granted no credit for 10 s after {Sent(id):N0} bytes");
                    continue;
                }
                var n = (int)Math.Min(Math.Min(frame.Length, allowed), start + count - offset);
                for (var i = 0; i < n; i++)
                    frame[i] = Pattern(offset + i);
                await SendAsync([.. Encoding.ASCII.GetBytes($"O {id} {n}\n"), .. frame.AsSpan(0, n)]);
                _sent.AddOrUpdate(id, n, (_, sent) => sent + n);
                offset += n;
            }
        }

        private async Task ReadAsync()
        {
            var stream = new NetworkStream(_socket, ownsSocket: false);
            var buffer = new List<byte>();
            var one = new byte[1];
            async Task<string?> LineAsync()
            {
                buffer.Clear();
                while (true)
                {
                    if (await stream.ReadAsync(one, _stop.Token) == 0)
                        return null;
                    if (one[0] == '\n')
                        return Encoding.UTF8.GetString([.. buffer]);
                    buffer.Add(one[0]);
                }
            }
            try
            {
                while (await LineAsync() is { } line)
                {
                    var parts = line.Split(' ');
                    switch (parts[0])
                    {
                        case "R":
                            var body = new byte[int.Parse(parts[2], CultureInfo.InvariantCulture)];
                            await stream.ReadExactlyAsync(body, _stop.Token);
                            await _commands.Writer.WriteAsync((parts[1], Encoding.UTF8.GetString(body)));
                            break;
                        case "C":
                            _granted.AddOrUpdate(parts[1], long.Parse(parts[2], CultureInfo.InvariantCulture), (_, granted) => granted + long.Parse(parts[2], CultureInfo.InvariantCulture));
                            _credit.Release();
                            break;
                        case "Q":
                            await SendAsync("BYE\n");
                            break;
                        default:
                            break;
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (IOException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            await _stop.CancelAsync();
            _socket.Dispose();
            _listener.Dispose();
            try
            {
                await _reader;
            }
            catch (ObjectDisposedException)
            {
            }
            File.Delete(_path);
            _stop.Dispose();
            _sendLock.Dispose();
            _credit.Dispose();
        }
    }
}
