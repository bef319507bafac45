using Microsoft.VisualStudio.TestTools.UnitTesting;

// Real guests share two host cores: one test class (one guest) at a time.
[assembly: DoNotParallelize]
