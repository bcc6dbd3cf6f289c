// Character creator sample: a grid of NPC faces from seeds; click one to edit it with one slider
// per model direction (live previews, latest wins); Commit stores the face's DNA in PlayerPrefs,
// and the next start shows the stored face first.
//
// Use: an empty scene, an empty GameObject with this component, its Settings set to an
// AvatarForgeSettings asset (Assets > Create > AvatarForge > Settings), a server running
// (avatarforge serve --web-address 0.0.0.0:8081), Play. The UI is built in code (CreatorLayout) so
// the sample needs no scene or prefab files.
using System;
using System.Collections.Generic;
using System.Linq;
using AvatarForge.Client;
using AvatarForge.Runtime;
using UnityEngine;
using UnityEngine.UI;

namespace AvatarForge.Samples
{
    public sealed class CharacterCreator : MonoBehaviour
    {
        const string SavedKey = "avatarforge.character.dna";

        public AvatarForgeSettings settings;
        [Tooltip("First seed of the grid")] public long firstSeed = 1000;
        [Range(1, 48)] public int faces = 12;
        [Tooltip("Grid face size in pixels; 0 = the model's native size")] public int gridSize = 64;
        [Tooltip("Editor preview size in pixels; 0 = the model's native size")] public int previewSize = 256;

        AvatarFaceGenerator generator;
        AvatarEditor editor;
        CreatorLayout layout;

        async void Start()
        {
            layout = CreatorLayout.Build(transform);
            generator = gameObject.AddComponent<AvatarFaceGenerator>();
            generator.settings = settings;
            generator.size = gridSize;
            generator.cacheCapacity = faces + 8;
            editor = gameObject.AddComponent<AvatarEditor>();
            editor.settings = settings;
            editor.size = previewSize;
            editor.preview = layout.Preview;
            editor.onError.AddListener(message => layout.Status.text = message);
            layout.Commit.onClick.AddListener(Commit);

            layout.Status.text = "generating " + faces + " faces...";
            var seeds = Enumerable.Range(0, faces).Select(i => firstSeed + i).ToList();
            var results = await generator.GenerateAsync(seeds);
            foreach (var face in results)
            {
                if (!face.IsOk) { layout.Status.text = "seed " + face.Seed + ": " + face.Status; continue; }
                var dna = face.Dna;
                layout.AddFace(face.Value, () => Edit(dna));
            }
            var saved = PlayerPrefs.GetString(SavedKey, "");
            var first = saved.Length > 0 ? Convert.FromBase64String(saved) : results.Where(f => f.IsOk).Select(f => f.Dna).FirstOrDefault();
            if (first != null) Edit(first);
        }

        async void Edit(byte[] dna)
        {
            var status = await editor.BeginAsync(dna);
            if (!status.IsOk) { layout.Status.text = status.ToString(); return; }
            if (layout.SliderCount == 0)
                foreach (var direction in editor.Directions)
                    editor.Bind(direction.Name, layout.AddSlider(direction.Name + (direction.Description.Length > 0 ? " - " + direction.Description : "")));
            layout.Status.text = settings.ResolvedTransport == TransportChoice.UnityWebRequest
                ? "editing (RenderPreview over UnityWebRequest)" : "editing (RenderPreview over HttpClient)";
        }

        async void Commit()
        {
            var dna = await editor.CommitAsync();
            if (dna == null) { layout.Status.text = "nothing to commit: the last preview failed"; return; }
            PlayerPrefs.SetString(SavedKey, Convert.ToBase64String(dna));
            PlayerPrefs.Save();
            layout.Status.text = "committed: " + dna.Length + " bytes of DNA saved";
        }
    }
}
