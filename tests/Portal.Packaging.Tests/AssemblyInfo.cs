using Microsoft.VisualStudio.TestTools.UnitTesting;

// One test, which runs dotnet pack and a whole restore and build: nothing to run beside it.
[assembly: DoNotParallelize]
