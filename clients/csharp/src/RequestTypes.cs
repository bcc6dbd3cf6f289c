// What the multi-field calls take and give back (the single-purpose ones take plain arguments).
using System.Collections.Generic;

namespace AvatarForge.Client
{
    /// <summary>Bulk generation: a range [BaseSeed, BaseSeed + Count), or Seeds when not empty.</summary>
    public sealed class BatchSpec
    {
        public long BaseSeed;
        public long Count;
        public IList<long> Seeds = new List<long>();
        /// <summary>Resume: items with a smaller index are skipped (after a crash, the first index not stored).</summary>
        public long StartIndex;
        public float? TruncationPsi;
        public OutputOptions Output = new OutputOptions();
        public int ProgressEvery;  // a progress event after this many items; 0 = every micro-batch
    }

    public struct BatchProgress
    {
        public long Completed;  // including items skipped by StartIndex
        public long Failed, Total;
    }

    public sealed class BatchSummary
    {
        public long Total, Skipped, Produced, Failed, WallUs;
        public CallTiming Timing;
    }

    public enum BatchEventKind { Item, Progress, Summary }

    /// <summary>One event of a GenerateBatch stream; Item may carry an error instead of an image.</summary>
    public sealed class BatchEvent
    {
        public BatchEventKind Kind;
        public Face Item;
        public BatchProgress Progress;
        public BatchSummary Summary;
    }

    /// <summary>How a second face is blended into the edited one.</summary>
    public sealed class MixSpec
    {
        public byte[] Other;
        public float? Weight;              // 0 = only the current face, 1 (or null) = only Other
        public int LayerStart, LayerEnd;   // W+ layers mixed; 0,0 = all
    }

    /// <summary>One edited face in one call: the slider path that works everywhere, WebGL included.</summary>
    public sealed class PreviewSpec
    {
        public byte[] Dna;
        public IList<DirectionEdit> Edits = new List<DirectionEdit>();  // absolute slider values
        public MixSpec Mix;
        public float? TruncationPsi;
        /// <summary>Parts set exactly (ModelInfo.Parts names them), each part at most once; applied
        /// first, and recorded in the edited DNA as "part/&lt;part&gt;/&lt;VALUE&gt;".</summary>
        public IList<PartValue> SetParts = new List<PartValue>();
        public OutputOptions Output = new OutputOptions();
    }

    public sealed class PreviewResult
    {
        public Picture Picture;
        public byte[] Dna;  // the edited face
        public CallTiming Timing;
    }

    /// <summary>"Make an avatar from my picture": pictures of one character, any framing (the
    /// server finds the avatar and aligns it). Encoded files need only Format and Data.</summary>
    public sealed class EncodeSpec
    {
        public IList<Picture> Pictures = new List<Picture>();
        public OutputOptions Output = new OutputOptions();  // for the reconstruction
        public int RefineSteps;      // optimise the code against the pictures afterwards; 0 = none
        public int RefineBudgetMs;   // ... for at most this long; 0 = the server's default
    }

    public sealed class EncodeResult
    {
        public byte[] Dna;         // its edits record the provenance ("encode/<picture hash>", "refine")
        public Picture Picture;    // the DNA rendered: what was understood
        public CallTiming Timing;
        public float PsnrDb;       // reconstruction vs the aligned pictures (mean)
        public float? AttributeAgreement;  // share of the classifier's parts read alike; null without one
        public float Spread;       // how far apart several pictures' codes were (W std units)
        public int RefineStepsDone;
    }

    /// <summary>Frames along a path Source -> Via... -> Target (a morph animation).</summary>
    public sealed class MorphSpec
    {
        public byte[] Source, Target;
        public IList<byte[]> Via = new List<byte[]>();
        public int Frames = 2;   // >= 2, both ends included
        public bool Slerp;       // false: linear in W+
        public OutputOptions Output = new OutputOptions();
    }

    public sealed class Frame
    {
        public int Index;
        public float T;  // 0 = source, 1 = target
        public Picture Picture;
        public byte[] Dna;
    }

    public sealed class MixParent
    {
        public byte[] Dna;
        public float Weight = 1;           // blend: relative weight
        public int LayerStart, LayerEnd;   // style mix: the W+ layers taken from this parent
        public MixParent(byte[] dna) { Dna = dna; }
    }
}
