// The character creator: UI sliders bound to the model's directions, part dropdowns (SetPart) for
// a model that draws parts, one preview texture updated in place. Every slider move or pick
// renders the whole editor state with RenderPreview through a LatestWinsScheduler: one request in
// flight, the newest state waiting, so a dragged slider never queues and the last position is
// always the one shown.
//
// RenderPreview is used on every platform. WebGL cannot do otherwise (gRPC-Web carries no
// bidirectional stream); on desktop and mobile EditSession would save re-sending the DNA, but the
// C# client only has it with a duplex (native HTTP/2) transport, which is not part of this
// package: the scheduler's send function is the one place to switch when there is one.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using AvatarForge.Client;
using UnityEngine;
using UnityEngine.Events;
using UnityEngine.UI;

namespace AvatarForge.Runtime
{
    public sealed class AvatarEditor : MonoBehaviour
    {
        [Serializable] public sealed class TextureEvent : UnityEvent<Texture2D> { }
        [Serializable] public sealed class StatusEvent : UnityEvent<string> { }

        public AvatarForgeSettings settings;

        [Tooltip("Shows the preview; optional (onPreview gets the texture too)")]
        public RawImage preview;

        [Tooltip("Preview edge in pixels; 0 = the model's native size")]
        [Min(0)] public int size;

        public TextureEvent onPreview = new TextureEvent();
        public StatusEvent onError = new StatusEvent();

        ModelInfo model;
        SliderEdits edits;
        LatestWinsScheduler<PreviewSpec, Result<PreviewResult>> scheduler;
        Texture2D texture;
        byte[] renderedDna;
        readonly List<KeyValuePair<Slider, UnityAction<float>>> bound = new List<KeyValuePair<Slider, UnityAction<float>>>();

        /// <summary>The model's directions (slider names and ranges); empty before BeginAsync.</summary>
        public IList<DirectionInfo> Directions { get { return model != null ? model.Directions : new List<DirectionInfo>(); } }

        /// <summary>The model's parts and their values (one dropdown each); empty before BeginAsync
        /// and for a model that draws no parts.</summary>
        public IList<PartInfo> Parts { get { return model != null ? model.Parts : new List<PartInfo>(); } }

        /// <summary>Starts editing `dna`: loads the model's directions once, resets every slider to
        /// 0 and shows the face. Call from the main thread.</summary>
        public async Task<RpcStatus> BeginAsync(byte[] dna)
        {
            if (model == null)
            {
                var info = await settings.Client.GetModelAsync();
                if (!info.IsOk) { onError.Invoke(info.Status.ToString()); return info.Status; }
                model = info.Value;
            }
            if (scheduler == null)
                scheduler = new LatestWinsScheduler<PreviewSpec, Result<PreviewResult>>(
                    (spec, ct) => settings.Client.RenderPreviewAsync(spec, null, ct), Show);
            edits = new SliderEdits(dna, model.Directions, model.Parts);
            renderedDna = dna;
            foreach (var pair in bound) pair.Key.SetValueWithoutNotify(0);
            scheduler.Submit(edits.Snapshot(RawPixels.TextureOutput(size)));
            return RpcStatus.Ok;
        }

        /// <summary>Binds a slider to a direction (range from the model); false for an unknown name.</summary>
        public bool Bind(string direction, Slider slider)
        {
            var d = Directions.FirstOrDefault(x => x.Name == direction);
            if (d == null) return false;
            slider.minValue = d.StrengthMin;
            slider.maxValue = d.StrengthMax;
            slider.SetValueWithoutNotify(0);
            UnityAction<float> listener = value => Set(direction, value);
            slider.onValueChanged.AddListener(listener);
            bound.Add(new KeyValuePair<Slider, UnityAction<float>>(slider, listener));
            return true;
        }

        /// <summary>One slider's new absolute value; renders soon, never queues.</summary>
        public void Set(string direction, float value)
        {
            if (edits != null && edits.Set(direction, value)) scheduler.Submit(edits.Snapshot(RawPixels.TextureOutput(size)));
        }

        /// <summary>One part picked from its dropdown ("" unpicks it); renders soon, never queues.
        /// False for a part or value the model does not have.</summary>
        public bool SetPart(string part, string value)
        {
            if (edits == null || !edits.SetPart(part, value)) return false;
            scheduler.Submit(edits.Snapshot(RawPixels.TextureOutput(size)));
            return true;
        }

        /// <summary>Waits for the render of the current slider state and returns that face's DNA
        /// (store it: it renders this face again anywhere); null when that render failed.</summary>
        public async Task<byte[]> CommitAsync()
        {
            if (scheduler == null) return null;
            await scheduler.Idle;
            return renderedDna;
        }

        void Show(PreviewSpec state, Result<PreviewResult> result, bool isLatest)
        {
            if (!result.IsOk)
            {
                if (isLatest) renderedDna = null;
                if (result.Status.Code != RpcCode.Cancelled) onError.Invoke(result.Status.ToString());
                return;
            }
            texture = FaceTextures.ToTexture(result.Value.Picture, texture);
            if (isLatest) renderedDna = result.Value.Dna;
            if (preview != null) preview.texture = texture;
            onPreview.Invoke(texture);
        }

        void OnDestroy()
        {
            foreach (var pair in bound)
                if (pair.Key != null) pair.Key.onValueChanged.RemoveListener(pair.Value);
            if (scheduler != null) scheduler.Dispose();
            FaceTextures.Release(texture);
        }
    }
}
