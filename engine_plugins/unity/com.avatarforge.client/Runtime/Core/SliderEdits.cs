// The character creator's state: the face being edited (DNA) and one absolute value per slider.
// RenderPreview takes absolute values, not deltas, so any snapshot renders the whole state and a
// dropped intermediate state loses nothing: that is what makes latest-wins safe.
using System;
using System.Collections.Generic;
using System.Linq;

namespace AvatarForge.Client
{
    public sealed class SliderEdits
    {
        readonly Dictionary<string, float> values = new Dictionary<string, float>();
        readonly List<string> order = new List<string>();  // model order, so snapshots are stable

        public SliderEdits(byte[] dna, IEnumerable<DirectionInfo> directions)
        {
            if (dna == null || dna.Length == 0) throw new ArgumentException("DNA bytes are required", "dna");
            Dna = dna;
            foreach (var d in directions ?? Enumerable.Empty<DirectionInfo>())
            {
                order.Add(d.Name);
                values[d.Name] = 0;
            }
        }

        /// <summary>The face the sliders edit (the edits apply on top of it).</summary>
        public byte[] Dna { get; private set; }

        public IList<string> Directions { get { return order; } }

        public float Get(string direction) { return values[direction]; }

        /// <summary>Sets one slider; false (and no change) for a direction the model does not have.</summary>
        public bool Set(string direction, float value)
        {
            if (!values.ContainsKey(direction)) return false;
            values[direction] = value;
            return true;
        }

        /// <summary>Every slider back to 0 on a new face (e.g. the edited DNA after a commit).</summary>
        public void Rebase(byte[] dna)
        {
            if (dna == null || dna.Length == 0) throw new ArgumentException("DNA bytes are required", "dna");
            Dna = dna;
            foreach (var name in order) values[name] = 0;
        }

        /// <summary>An independent copy of the state as a request: later Set calls do not change it.</summary>
        public PreviewSpec Snapshot(OutputOptions output, float? truncationPsi = null)
        {
            var spec = new PreviewSpec
            {
                Dna = Dna,
                TruncationPsi = truncationPsi,
                Output = new OutputOptions { Format = output.Format, Size = output.Size, Quality = output.Quality, BottomUp = output.BottomUp },
            };
            foreach (var name in order)
                if (values[name] != 0) spec.Edits.Add(new DirectionEdit(name, values[name]));
            return spec;
        }
    }
}
