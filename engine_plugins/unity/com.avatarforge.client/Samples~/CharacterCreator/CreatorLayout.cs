// The sample's uGUI, built in code with UnityEngine.UI.DefaultControls (what GameObject > UI
// creates): a face grid on the left, the preview, one slider per direction and a Commit button on
// the right, a status line at the bottom.
using UnityEngine;
using UnityEngine.EventSystems;
using UnityEngine.UI;

namespace AvatarForge.Samples
{
    public sealed class CreatorLayout
    {
        public RawImage Preview;
        public Button Commit;
        public Text Status;
        public int SliderCount { get { return sliders.childCount; } }

        RectTransform grid, sliders;
        static readonly DefaultControls.Resources Plain = new DefaultControls.Resources();

        public static CreatorLayout Build(Transform parent)
        {
            if (Object.FindObjectOfType<EventSystem>() == null)
                new GameObject("EventSystem", typeof(EventSystem), typeof(StandaloneInputModule));
            var canvasObject = new GameObject("Character Creator", typeof(Canvas), typeof(CanvasScaler), typeof(GraphicRaycaster));
            canvasObject.transform.SetParent(parent, false);
            canvasObject.GetComponent<Canvas>().renderMode = RenderMode.ScreenSpaceOverlay;
            var scaler = canvasObject.GetComponent<CanvasScaler>();
            scaler.uiScaleMode = CanvasScaler.ScaleMode.ScaleWithScreenSize;
            scaler.referenceResolution = new Vector2(1280, 720);
            var root = canvasObject.transform;

            var layout = new CreatorLayout();
            layout.grid = Panel(root, "Faces", new Vector2(0, 0.08f), new Vector2(0.5f, 1));
            var cells = layout.grid.gameObject.AddComponent<GridLayoutGroup>();
            cells.cellSize = new Vector2(96, 96);
            cells.spacing = new Vector2(6, 6);

            var right = Panel(root, "Editor", new Vector2(0.5f, 0.08f), new Vector2(1, 1));
            layout.Preview = DefaultControls.CreateRawImage(Plain).GetComponent<RawImage>();
            Place(layout.Preview.transform, right, new Vector2(0.25f, 0.5f), new Vector2(0.75f, 1));
            layout.sliders = Panel(right, "Sliders", new Vector2(0, 0.1f), new Vector2(1, 0.5f));
            var column = layout.sliders.gameObject.AddComponent<VerticalLayoutGroup>();
            column.childForceExpandHeight = false;
            column.spacing = 4;
            var commit = DefaultControls.CreateButton(Plain);
            commit.GetComponentInChildren<Text>().text = "Commit";
            Place(commit.transform, right, new Vector2(0.35f, 0), new Vector2(0.65f, 0.08f));
            layout.Commit = commit.GetComponent<Button>();

            var status = DefaultControls.CreateText(Plain);
            Place(status.transform, root, new Vector2(0, 0), new Vector2(1, 0.07f));
            layout.Status = status.GetComponent<Text>();
            return layout;
        }

        public void AddFace(Texture2D texture, UnityEngine.Events.UnityAction onClick)
        {
            var cell = DefaultControls.CreateRawImage(Plain);
            cell.transform.SetParent(grid, false);
            cell.GetComponent<RawImage>().texture = texture;
            cell.AddComponent<Button>().onClick.AddListener(onClick);
        }

        public Slider AddSlider(string label)
        {
            var text = DefaultControls.CreateText(Plain);
            text.transform.SetParent(sliders, false);
            text.GetComponent<Text>().text = label;
            var slider = DefaultControls.CreateSlider(Plain);
            slider.transform.SetParent(sliders, false);
            slider.AddComponent<LayoutElement>().minHeight = 20;
            return slider.GetComponent<Slider>();
        }

        static RectTransform Panel(Transform parent, string name, Vector2 min, Vector2 max)
        {
            var panel = new GameObject(name, typeof(RectTransform));
            Place(panel.transform, parent, min, max);
            return (RectTransform)panel.transform;
        }

        static void Place(Transform child, Transform parent, Vector2 min, Vector2 max)
        {
            child.SetParent(parent, false);
            var rect = (RectTransform)child;
            rect.anchorMin = min;
            rect.anchorMax = max;
            rect.offsetMin = rect.offsetMax = Vector2.zero;
        }
    }
}
