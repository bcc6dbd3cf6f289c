// The character creator's state: the face being edited (DNA), one absolute value per slider and
// the parts picked from the model's dropdowns. RenderPreview takes absolute values, not deltas, so
// any snapshot renders the whole state and a dropped intermediate state loses nothing: that is
// what makes latest-wins safe.
using System;
using System.Collections.Generic;
using System.Linq;

namespace AvatarForge.Client
{
    public sealed class SliderEdits
    {
        readonly Dictionary<string, float> values = new Dictionary<string, float>();
        readonly List<string> order = new List<string>();  // model order, so snapshots are stable
        readonly List<PartInfo> parts = new List<PartInfo>();  // the vocabulary, in model order
        readonly Dictionary<string, string> picked = new Dictionary<string, string>();  // part -> value set

        /// <param name="parts">The model's parts (ModelInfo.Parts); null or empty: no dropdowns.</param>
        public SliderEdits(byte[] dna, IEnumerable<DirectionInfo> directions, IEnumerable<PartInfo> parts = null)
        {
            if (dna == null || dna.Length == 0) throw new ArgumentException("DNA bytes are required", "dna");
            Dna = dna;
            foreach (var d in directions ?? Enumerable.Empty<DirectionInfo>())
            {
                order.Add(d.Name);
                values[d.Name] = 0;
            }
            this.parts.AddRange(parts ?? Enumerable.Empty<PartInfo>());
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

        /// <summary>The part's picked value; "" when none is picked (the face keeps its own).</summary>
        public string GetPart(string part)
        {
            string value;
            return picked.TryGetValue(part, out value) ? value : "";
        }

        /// <summary>Picks one part's value; "" (or null) unpicks it. False (and no change) for a part
        /// or value the model does not have, so a stale dropdown cannot send a state the server refuses.</summary>
        public bool SetPart(string part, string value)
        {
            var info = parts.FirstOrDefault(p => p.Name == part);
            if (info == null) return false;
            if (string.IsNullOrEmpty(value)) { picked.Remove(part); return true; }
            if (!info.Values.Contains(value)) return false;
            picked[part] = value;
            return true;
        }

        /// <summary>Every slider back to 0 and every part unpicked on a new face (e.g. the edited
        /// DNA after a commit, which already records the parts set).</summary>
        public void Rebase(byte[] dna)
        {
            if (dna == null || dna.Length == 0) throw new ArgumentException("DNA bytes are required", "dna");
            Dna = dna;
            foreach (var name in order) values[name] = 0;
            picked.Clear();
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
            foreach (var part in parts)
                if (picked.ContainsKey(part.Name)) spec.SetParts.Add(new PartValue(part.Name, picked[part.Name]));
            return spec;
        }
    }
}
