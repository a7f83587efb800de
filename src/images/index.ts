/** Base images for machine providers: recipe → root directory (+ VM artifacts) + manifest; the guest agent. */
export { DEBIAN_BASE_PACKAGES, DEFAULT_DEBIAN_MIRROR, DEFAULT_DEBIAN_SUITE, TEST_RECIPE, loadRecipe, parseRecipe, recipeSchema, type ImageRecipe } from './recipe.ts';
export { IMAGE_BUILDER_VERSION, buildImage, buildTestImage, readImage, type BuildImageOptions, type BuiltImage, type ImageManifest } from './build-image.ts';
export { AGENT_PATH, GUEST_AGENT_SCRIPT, RUNNER_HOME, RUNNER_UID, RUNNER_USER } from './rootfs-common.ts';
