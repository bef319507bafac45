// The worker (HeaderWorker: libclang under limits, in a process of its own) starts here too, before the command
// line is built: it pays for no more than it uses.
return args is [Portal.Headers.Isolation.HeaderWorker.Argument]
    ? Portal.Headers.Isolation.HeaderWorker.Serve()
    : Portal.Headers.HeadersCommandLine.Run(args, Console.Out, Console.Error);
